"""The instruction-tuning loss: next-token cross-entropy on the answer only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vlpk")
class AnswerLoss(keras.losses.Loss):
    """Cross-entropy averaged over the answer tokens, and only those.

    The sample weights (`VisionLMPreprocessor`'s) are 1 where the target is
    an answer token and 0 on the prompt, the image and the padding. The
    loss is `sum(weight * token loss) / sum(weight)`, LLaVA's mean over the
    tokens that are not ignored, not a mean over every position (which
    would shrink with the prompt's length).

    Two silent failures of LLaVA-style training are refused:

    - no weights at all would train on the prompt: calling the loss without
      `sample_weight` raises a `ValueError`;
    - weights that are all 0 (every answer truncated away, or a template
      that marks nothing) give a loss of exactly 0 in LLaVA, which looks
      like perfect training. Here they give NaN, which `fit` shows at once
      and `keras.callbacks.TerminateOnNaN` stops on.

    Example:
    >>> import numpy as np
    >>> logits = np.zeros((1, 3, 4), "float32")  # uniform over 4 tokens
    >>> loss = AnswerLoss()
    >>> round(float(loss(np.array([[1, 2, 3]]), logits, np.array([[0, 1, 1]]))), 4)
    1.3863
    >>> float(loss(np.array([[1, 2, 3]]), logits, np.zeros((1, 3))))
    nan
    """

    def __init__(
        self, name="answer_loss", reduction="mean_with_sample_weight", **kwargs
    ):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=True
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            raise ValueError(
                "AnswerLoss needs sample weights that mark the answer tokens "
                "(VisionLMPreprocessor makes them); without them it would "
                "train on the prompt."
            )
        loss = super().__call__(y_true, y_pred, sample_weight)
        total = ops.sum(ops.cast(sample_weight, loss.dtype))
        return ops.where(total > 0, loss, ops.cast(float("nan"), loss.dtype))
