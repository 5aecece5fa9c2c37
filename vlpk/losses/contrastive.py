"""CLIP's symmetric contrastive (InfoNCE) loss."""

import keras
from keras import ops


def unpack_contrastive(y_pred):
    """Splits a `LogitScale` output into image, text embeddings and the scale.

    Returns:
        `(image_embedding [B, D], text_embedding [B, D], logit_scale [])`.
    """
    dim = (y_pred.shape[-1] - 1) // 2
    return y_pred[:, :dim], y_pred[:, dim : 2 * dim], y_pred[0, 2 * dim]


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


@keras.saving.register_keras_serializable(package="vlpk")
class ContrastiveLoss(keras.losses.Loss):
    """CLIP's symmetric image-text contrastive loss with a learned temperature.

    `y_pred` is the packed output of `vlpk.layers.LogitScale`:
    `[image_embedding, text_embedding, logit_scale]`. `y_true` holds one id per
    pair (the image id): pairs that share an id are positives of each other.
    The loss averages image→text and text→image cross-entropy.

    Args:
        label_smoothing: smoothing applied to the soft targets.

    Example:
    >>> loss = ContrastiveLoss()
    >>> model.compile(optimizer="adam", loss={"contrastive": loss})

    References:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020) (CLIP)
        - OpenCLIP's `ClipLoss`.
    """

    def __init__(self, label_smoothing=0.0, name="contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        image, text, scale = unpack_contrastive(y_pred)
        logits = scale * ops.matmul(image, ops.transpose(text))
        targets = positive_targets(y_true, y_true, logits.dtype)
        if self.label_smoothing:
            n = ops.cast(ops.shape(logits)[-1], logits.dtype)
            targets = targets * (1 - self.label_smoothing) + self.label_smoothing / n
        image_to_text = keras.losses.categorical_crossentropy(
            targets, logits, from_logits=True
        )
        text_to_image = keras.losses.categorical_crossentropy(
            ops.transpose(targets), ops.transpose(logits), from_logits=True
        )
        return 0.5 * (image_to_text + text_to_image)

    def get_config(self):
        config = super().get_config()
        config["label_smoothing"] = self.label_smoothing
        return config
