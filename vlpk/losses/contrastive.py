"""CLIP's symmetric contrastive (InfoNCE) loss."""

import keras
from keras import ops

from vlpk.losses.gather import gather_from_replicas


def unpack_contrastive(y_pred):
    """Splits a `LogitScale` output into embeddings, scale and bias.

    The packed width is `2 * dim + 1` (scale only) or `2 * dim + 2` (scale
    and the sigmoid loss's bias).

    Returns:
        `(image_embedding [B, D], text_embedding [B, D], logit_scale [],
        logit_bias [] or None)`.
    """
    width = y_pred.shape[-1]
    has_bias = width % 2 == 0
    dim = (width - 2) // 2 if has_bias else (width - 1) // 2
    bias = y_pred[0, 2 * dim + 1] if has_bias else None
    return y_pred[:, :dim], y_pred[:, dim : 2 * dim], y_pred[0, 2 * dim], bias


def positive_targets(row_ids, column_ids, dtype="float32"):
    """Soft targets: each row's positives are the columns with the same id.

    Pairs are usually positive only on the diagonal, but when one image appears
    twice in a batch (COCO has five captions an image) its other captions are
    positives too, not negatives. Each row sums to one.
    """
    row_ids = ops.reshape(ops.cast(row_ids, "int64"), (-1, 1))
    column_ids = ops.reshape(ops.cast(column_ids, "int64"), (1, -1))
    matches = ops.cast(ops.equal(row_ids, column_ids), dtype)
    return matches / ops.maximum(ops.sum(matches, axis=-1, keepdims=True), 1.0)


TARGETS = ("ids", "similarity")


@keras.saving.register_keras_serializable(package="vlpk")
class ContrastiveLoss(keras.losses.Loss):
    """CLIP's symmetric image-text contrastive loss with a learned temperature.

    `y_pred` is the packed output of `vlpk.layers.LogitScale`:
    `[image_embedding, text_embedding, logit_scale]`. `y_true` holds one id per
    pair (the image id): pairs that share an id are positives of each other.
    The loss averages image→text and text→image cross-entropy.

    Under a `tf.distribute` strategy, each replica scores its own images
    against the texts of the **global** batch (and its texts against all
    images), gathered with `ReplicaContext.all_gather`. With Keras's
    per-replica reduction (local mean, scaled by `1 / replicas`) the sum over
    replicas is exactly the single-device loss on the global batch, and so
    are the gradients.

    Args:
        label_smoothing: smoothing applied to the soft targets.
        global_negatives: gather negatives from every replica. False scores
            each replica's slice alone (only for ablations).
        targets: `"ids"` (CLIP: the pairs that share an id) or
            `"similarity"` (keras.io's "Natural language image search with a
            Dual Encoder"): each row's targets are the softmax of the mean
            of its image-image and text-text similarities, times the logit
            scale, so near-duplicate captions or images are not pushed
            apart. (keras.io normalizes the image→text targets by column;
            here both directions normalize by row, so every target sums
            to one.)

    Example:
    >>> import numpy as np
    >>> from vlpk.layers import LogitScale
    >>> packed = LogitScale()({"image": np.ones((2, 4)), "text": np.ones((2, 4))})
    >>> loss = ContrastiveLoss()
    >>> round(float(loss(np.array([0, 1]), packed)), 3)  # all pairs alike: log 2
    0.693

    A model with a `contrastive` output (`vlpk.models.DualEncoderBackbone`)
    takes it as `model.compile(optimizer="adam", loss={"contrastive": loss})`.

    References:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020) (CLIP)
        - OpenCLIP's `ClipLoss`.
    """

    def __init__(
        self,
        label_smoothing=0.0,
        global_negatives=True,
        targets="ids",
        name="contrastive_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}.")
        self.label_smoothing = label_smoothing
        self.global_negatives = global_negatives
        self.targets = targets

    def call(self, y_true, y_pred):
        image, text, scale, _ = unpack_contrastive(y_pred)
        ids = ops.reshape(y_true, (-1,))
        if self.global_negatives:
            all_image, all_text, all_ids = gather_from_replicas(image, text, ids)
        else:
            all_image, all_text, all_ids = image, text, ids
        # Local rows against global columns, in both directions.
        image_to_text = scale * ops.matmul(image, ops.transpose(all_text))
        text_to_image = scale * ops.matmul(text, ops.transpose(all_image))
        if self.targets == "similarity":
            similarity = ops.matmul(image, ops.transpose(all_image)) + ops.matmul(
                text, ops.transpose(all_text)
            )
            targets = ops.softmax(scale * similarity / 2, axis=-1)
        else:
            targets = positive_targets(ids, all_ids, image_to_text.dtype)
        if self.label_smoothing:
            n = ops.cast(ops.shape(targets)[-1], targets.dtype)
            targets = targets * (1 - self.label_smoothing) + self.label_smoothing / n
        return 0.5 * (
            keras.losses.categorical_crossentropy(
                targets, image_to_text, from_logits=True
            )
            + keras.losses.categorical_crossentropy(
                targets, text_to_image, from_logits=True
            )
        )

    def get_config(self):
        config = super().get_config()
        config["label_smoothing"] = self.label_smoothing
        config["global_negatives"] = self.global_negatives
        config["targets"] = self.targets
        return config
