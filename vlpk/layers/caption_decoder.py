"""The captioning decoder: a causal text decoder that attends to image tokens."""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="vlpk")
class CaptionDecoder(keras.layers.Layer):
    """CoCa-style captioner: predicts each next caption token from the tokens
    before it and from the image tokens.

    Token and position embeddings feed `num_layers` KerasHub
    `TransformerDecoder` blocks, each one causal self-attention over the
    caption, cross-attention to the image tokens and a feed-forward block,
    then a `Dense` layer to vocabulary logits. Image tokens are first
    projected to `hidden_dim`, as in `CrossAttentionFusion`.

    There is no final `LayerNormalization`: KerasHub's decoder blocks are
    post-norm (`normalize_first=False`), so their output is normalized already.
    The logits layer computes in float32 so that the softmax in the loss and in
    the samplers stays stable under a mixed-precision policy.

    Training is teacher forcing: the logits at position `t` predict token
    `t + 1`, so the target is `next_token_targets(token_ids)` and the loss is
    `vlpk.losses.CaptioningLoss` (pad targets ignored).

    Args:
        vocabulary_size: size of the token vocabulary (and of the logits).
        sequence_length: the longest caption the position embedding covers.
        num_layers: how many decoder blocks.
        num_heads: attention heads per block.
        hidden_dim: width of the embeddings and of every block.
        intermediate_dim: width of each feed-forward block.
        dropout: dropout rate inside the blocks.

    Call arguments:
        inputs: a dict with `token_ids` `[batch, T]` (int, `T <=
            sequence_length`), `padding_mask` `[batch, T]` (int or bool; 1
            marks a real token) and `image_tokens` `[batch, N, d_img]`.

    Returns:
        Next-token logits `[batch, T, vocabulary_size]`, float32.

    Example:
    >>> import numpy as np
    >>> decoder = CaptionDecoder(vocabulary_size=30, sequence_length=8,
    ...                          num_layers=1, num_heads=2, hidden_dim=16,
    ...                          intermediate_dim=32)
    >>> decoder({"token_ids": np.ones((2, 8), "int32"),
    ...          "padding_mask": np.ones((2, 8), "int32"),
    ...          "image_tokens": np.ones((2, 9, 12))}).shape
    TensorShape([2, 8, 30])

    References:
        - [Yu et al., 2022](https://arxiv.org/abs/2205.01917) (CoCa)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        num_layers=2,
        num_heads=4,
        hidden_dim=256,
        intermediate_dim=512,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.embedding = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=vocabulary_size,
            sequence_length=sequence_length,
            embedding_dim=hidden_dim,
            dtype=self.dtype_policy,
            name="embedding",
        )
        self.image_projection = keras.layers.Dense(
            hidden_dim, dtype=self.dtype_policy, name="image_projection"
        )
        self.blocks = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation="gelu",
                dtype=self.dtype_policy,
                name=f"decoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.logits = keras.layers.Dense(
            vocabulary_size, dtype="float32", name="logits"
        )

    def _check(self, input_shape):
        missing = {"token_ids", "padding_mask", "image_tokens"} - set(input_shape)
        if missing:
            raise ValueError(
                f"CaptionDecoder expects a dict with {sorted(missing)}; got "
                f"keys {sorted(input_shape)}."
            )
        if len(input_shape["image_tokens"]) != 3:
            raise ValueError(
                "CaptionDecoder expects 3-D `image_tokens` [batch, length, "
                f"features]; got {tuple(input_shape['image_tokens'])}. Use "
                "ImageEncoder(output='tokens') for the image side."
            )

    def build(self, input_shape):
        # Every sublayer is built here, not on first call, so a `.keras` file
        # finds all the weights it restores.
        self._check(input_shape)
        token_shape = tuple(input_shape["token_ids"])
        image_shape = tuple(input_shape["image_tokens"])
        hidden_shape = token_shape + (self.hidden_dim,)
        self.embedding.build(token_shape)
        self.image_projection.build(image_shape)
        for block in self.blocks:
            block.build(hidden_shape, image_shape[:-1] + (self.hidden_dim,))
        self.logits.build(hidden_shape)

    def call(self, inputs, training=None):
        mask = keras.ops.cast(inputs["padding_mask"], "bool")
        image = self.image_projection(inputs["image_tokens"])
        x = self.embedding(inputs["token_ids"])
        for block in self.blocks:
            x = block(
                x,
                encoder_sequence=image,
                decoder_padding_mask=mask,
                use_causal_mask=True,
                training=training,
            )
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape["token_ids"]) + (self.vocabulary_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
            }
        )
        return config


def next_token_targets(token_ids):
    """The teacher-forcing targets: `token_ids` shifted left, 0 ([PAD]) appended.

    Position `t` of the decoder's logits predicts token `t + 1`, so its target
    is the next token; the last position has no next token and gets the pad
    id, which the captioning loss ignores. Plain TensorFlow ops, so it runs
    inside `tf.data`, batched (`[batch, T]`) or not (`[T]`).

    Args:
        token_ids: int tensor or array `[..., T]`.

    Returns:
        A tensor of the same shape and dtype.

    Example:
    >>> next_token_targets([[2, 7, 8, 3, 0]]).numpy().tolist()
    [[7, 8, 3, 0, 0]]
    """
    token_ids = tf.convert_to_tensor(token_ids)
    return tf.concat([token_ids[..., 1:], tf.zeros_like(token_ids[..., :1])], axis=-1)
