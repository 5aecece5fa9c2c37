"""Cross-attention fusion: text tokens attend to image tokens over N layers."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="vlpk")
class CrossAttentionFusion(keras.layers.Layer):
    """ALBEF-style fusion: each layer is self-attention over the text, then
    cross-attention from text to image tokens, then a feed-forward block.

    Each layer is a KerasHub `TransformerDecoder` run without a causal mask,
    which is exactly that block. Image tokens are first projected to the text
    width.

    Args:
        num_layers: how many fusion layers.
        num_heads: attention heads per layer.
        intermediate_dim: width of each feed-forward block.
        dropout: dropout rate inside the blocks.

    Call arguments:
        inputs: a dict with `text` `[batch, T, d]`, `image` `[batch, N, d_img]`
            and optionally `padding_mask` `[batch, T]` (int or bool; 1 marks a
            real token).

    Returns:
        The fused text tokens, `[batch, T, d]`.

    Example:
    >>> import numpy as np
    >>> fusion = CrossAttentionFusion(num_layers=1, num_heads=2,
    ...                               intermediate_dim=32)
    >>> fusion({"text": np.ones((2, 5, 16)), "image": np.ones((2, 9, 8))}).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self, num_layers=2, num_heads=4, intermediate_dim=256, dropout=0.1, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.blocks = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation="gelu",
                dtype=self.dtype_policy,
                name=f"fusion_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.image_projection = None

    def _check(self, input_shape):
        for name in ("text", "image"):
            if len(input_shape[name]) != 3:
                raise ValueError(
                    f"CrossAttentionFusion expects 3-D `{name}` tokens "
                    f"[batch, length, features]; got {tuple(input_shape[name])}. "
                    "Use ImageEncoder(output='tokens') for the image side."
                )

    def build(self, input_shape):
        self._check(input_shape)
        width = input_shape["text"][-1]
        self.image_projection = keras.layers.Dense(
            width, dtype=self.dtype_policy, name="image_projection"
        )
        self.image_projection.build(input_shape["image"])
        image_shape = tuple(input_shape["image"][:-1]) + (width,)
        for block in self.blocks:
            block.build(input_shape["text"], image_shape)

    def call(self, inputs, training=None):
        text, image = inputs["text"], inputs["image"]
        mask = inputs.get("padding_mask")
        if mask is not None:
            mask = keras.ops.cast(mask, "bool")
        image = self.image_projection(image)
        for block in self.blocks:
            text = block(
                text,
                encoder_sequence=image,
                decoder_padding_mask=mask,
                use_causal_mask=False,
                training=training,
            )
        return text

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape["text"])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
            }
        )
        return config
