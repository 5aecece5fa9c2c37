"""Hard negatives for image-text matching, drawn from the global batch."""

import keras
from keras import ops

from vlpk.losses.contrastive import unpack_contrastive
from vlpk.losses.gather import gather_from_replicas

# A logit low enough that `categorical` never picks it, yet finite (an all-inf
# row would make the sampler return garbage instead of some index).
_NEVER = -1e9


@keras.saving.register_keras_serializable(package="vlpk")
class HardNegativeSampler(keras.layers.Layer):
    """Builds (positive, hard-negative text, hard-negative image) triplets.

    ALBEF and BLIP train their image-text matching head on pairs that the
    contrastive embeddings find hard: for each image, a text sampled with
    probability `softmax(scale * similarity)` over the batch; for each text,
    an image sampled the same way. Pairs that share an image id (two captions
    of one image) are never drawn as negatives.

    Under a `tf.distribute` strategy the candidates come from the **global**
    batch, as in BLIP: the embeddings, ids, image tokens, text tokens and
    masks are gathered from every replica with `ReplicaContext.all_gather`.
    The gathered tokens keep their gradient, so a negative drawn from another
    replica still trains the encoder that produced it.

    During training negatives are sampled; at inference the hardest negative
    (the arg-max) is taken, so the layer is deterministic outside `fit`.

    Args:
        seed: seed of the sampler's `keras.random.SeedGenerator`.
        global_negatives: draw from every replica's batch. False draws from
            the replica's own slice only (for ablations).

    Call arguments:
        inputs: a dict with
            - `contrastive`: the packed `LogitScale` output (embeddings and
              the learned logit scale);
            - `image_id`: `[B]` ids; equal ids are positives of each other;
            - `image_tokens`: `[B, N, C]`;
            - `text_tokens`: `[B, T, H]`;
            - `padding_mask`: `[B, T]`, 1 for real text tokens.

    Returns:
        A dict `image_tokens` `[3B, N, C]`, `text_tokens` `[3B, T, H]` and
        `padding_mask` `[3B, T]`: rows `0..B` are the positive pairs, `B..2B`
        pair each image with a hard-negative text, `2B..3B` pair each text
        with a hard-negative image. Feed it to the fusion encoder, then to
        `MatchingHead`.

    Example:
    >>> import numpy as np
    >>> from vlpk.layers import LogitScale
    >>> packed = LogitScale()({"image": np.eye(2, 4), "text": np.eye(2, 4)})
    >>> sampler = HardNegativeSampler(seed=0)
    >>> triplets = sampler({"contrastive": packed, "image_id": np.array([0, 1]),
    ...                     "image_tokens": np.ones((2, 9, 8)),
    ...                     "text_tokens": np.ones((2, 5, 16)),
    ...                     "padding_mask": np.ones((2, 5), "int32")}, training=True)
    >>> triplets["text_tokens"].shape
    TensorShape([6, 5, 16])

    References:
        - [Li et al., 2021](https://arxiv.org/abs/2107.07651) (ALBEF)
        - [Li et al., 2022](https://arxiv.org/abs/2201.12086) (BLIP)
    """

    def __init__(self, seed=None, global_negatives=True, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.global_negatives = global_negatives
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=None):
        image, text, scale, _ = unpack_contrastive(inputs["contrastive"])
        ids = ops.reshape(ops.cast(inputs["image_id"], "int32"), (-1,))
        image_tokens = inputs["image_tokens"]
        text_tokens = inputs["text_tokens"]
        mask = ops.cast(inputs["padding_mask"], "int32")
        local = (image, text, ids, image_tokens, text_tokens, mask)
        (
            all_image,
            all_text,
            all_ids,
            all_image_tokens,
            all_text_tokens,
            all_mask,
        ) = gather_from_replicas(*local) if self.global_negatives else local

        # Sampling weights carry no gradient (ALBEF samples under no_grad).
        scale = ops.stop_gradient(ops.cast(scale, "float32"))
        same = ops.equal(ops.expand_dims(ids, 1), ops.expand_dims(all_ids, 0))
        image_to_text = scale * ops.matmul(
            ops.stop_gradient(ops.cast(image, "float32")),
            ops.transpose(ops.stop_gradient(ops.cast(all_text, "float32"))),
        )
        text_to_image = scale * ops.matmul(
            ops.stop_gradient(ops.cast(text, "float32")),
            ops.transpose(ops.stop_gradient(ops.cast(all_image, "float32"))),
        )
        image_to_text = ops.where(same, _NEVER, image_to_text)
        text_to_image = ops.where(same, _NEVER, text_to_image)
        negative_text = self._pick(image_to_text, training)
        negative_image = self._pick(text_to_image, training)

        def take(x, index):
            return ops.take(x, index, axis=0)

        return {
            "image_tokens": ops.concatenate(
                [image_tokens, image_tokens, take(all_image_tokens, negative_image)],
                axis=0,
            ),
            "text_tokens": ops.concatenate(
                [text_tokens, take(all_text_tokens, negative_text), text_tokens],
                axis=0,
            ),
            "padding_mask": ops.concatenate(
                [mask, take(all_mask, negative_text), mask], axis=0
            ),
        }

    def _pick(self, logits, training):
        if training:
            drawn = keras.random.categorical(logits, 1, seed=self.seed_generator)
            return ops.reshape(ops.cast(drawn, "int32"), (-1,))
        return ops.cast(ops.argmax(logits, axis=-1), "int32")

    def compute_output_spec(self, inputs, training=None):
        def tripled(x, dtype=None):
            batch = None if x.shape[0] is None else 3 * x.shape[0]
            return keras.KerasTensor((batch,) + tuple(x.shape[1:]), dtype or x.dtype)

        return {
            "image_tokens": tripled(inputs["image_tokens"]),
            "text_tokens": tripled(inputs["text_tokens"]),
            "padding_mask": tripled(inputs["padding_mask"], "int32"),
        }

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        config["global_negatives"] = self.global_negatives
        return config


@keras.saving.register_keras_serializable(package="vlpk")
class MatchingHead(keras.layers.Layer):
    """The image-text matching head: one logit per (image, text) pair.

    It reads the fused `[CLS]` token of each pair (or the fused vector, for
    `ConcatFusion`'s 2-D output) and reshapes the `3B`
    logits made from `HardNegativeSampler` triplets into `[B, 3]`: column 0
    is the positive pair, columns 1 and 2 the hard-negative text and image.
    The matching targets are therefore `[1, 0, 0]` per row, trained with
    `keras.losses.BinaryCrossentropy(from_logits=True)`.

    Args:
        group_size: how many pairs belong to one example (3 for triplets; 1
            to score plain pairs, giving `[B, 1]`).

    Example:
    >>> import numpy as np
    >>> head = MatchingHead()
    >>> head(np.ones((6, 5, 16), "float32")).shape
    TensorShape([2, 3])
    """

    def __init__(self, group_size=3, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size
        self.dense = keras.layers.Dense(1, dtype="float32", name="logit")

    def build(self, input_shape):
        self.dense.build((input_shape[0], input_shape[-1]))

    def call(self, fused):
        pooled = fused[:, 0, :] if len(fused.shape) == 3 else fused
        logits = ops.squeeze(self.dense(pooled), axis=-1)
        # [group * B] -> [group, B] -> [B, group]
        return ops.transpose(ops.reshape(logits, (self.group_size, -1)))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        batch = None if batch is None else batch // self.group_size
        return (batch, self.group_size)

    def get_config(self):
        config = super().get_config()
        config["group_size"] = self.group_size
        return config
