"""Token accuracy that skips padding: for masked-LM and captioning heads."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vlpk")
class MaskedTokenAccuracy(keras.metrics.Mean):
    """The fraction of target tokens predicted exactly, ignoring one class.

    `keras.metrics.SparseCategoricalAccuracy` counts every position, so the
    padding that fills unused mask slots and the end of short captions would
    inflate it. This metric averages over the real targets only, like the
    loss `SparseCategoricalCrossentropy(ignore_class=0)` it accompanies.

    Args:
        ignore_class: the target id to skip (0, `[PAD]`, by default).
        name: the metric's name.

    Example:
    >>> metric = MaskedTokenAccuracy()
    >>> metric.update_state([[5, 0]], [[[0, 0, 0, 0, 0, 9], [9, 0, 0, 0, 0, 0]]])
    >>> float(metric.result())
    1.0
    """

    def __init__(self, ignore_class=0, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ignore_class = ignore_class

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weights = ops.cast(ops.not_equal(y_true, self.ignore_class), self.dtype)
        if sample_weight is not None:
            weights = weights * ops.cast(sample_weight, self.dtype)
        matches = ops.cast(ops.equal(y_true, predicted), self.dtype)
        return super().update_state(matches, sample_weight=weights)

    def get_config(self):
        config = super().get_config()
        config["ignore_class"] = self.ignore_class
        return config
