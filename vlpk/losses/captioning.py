"""The captioning (language-modelling) loss: next-token cross-entropy."""

import keras


@keras.saving.register_keras_serializable(package="vlpk")
class CaptioningLoss(keras.losses.Loss):
    """Token-level cross-entropy over the real (non-pad) caption tokens.

    It is `keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=pad_token_id)` under a name of its own. The mean is over
    real target tokens only, not over `batch * T`: Keras' `ignore_class` zeroes
    the pad positions *and* attaches their mask to the per-token losses, and
    `Loss.__call__` turns that mask into weights `total / valid`, so the
    default `"sum_over_batch_size"` reduction gives `sum(real losses) /
    number of real tokens`. A batch with no real token gives 0, not NaN
    (Keras divides with `divide_no_nan`). Sample weights, if any, multiply the
    per-token losses before that mean.

    Args:
        pad_token_id: the target id to ignore ([PAD], 0 in vlpk vocabularies).

    Call arguments:
        y_true: target ids `[batch, T]`, from
            `vlpk.layers.caption_decoder.next_token_targets(token_ids)`.
        y_pred: logits `[batch, T, vocabulary_size]` from `CaptionDecoder`.

    Example:
    >>> import numpy as np
    >>> loss = CaptioningLoss()
    >>> logits = np.zeros((1, 3, 5), "float32")    # uniform over 5 tokens
    >>> round(float(loss(np.array([[4, 3, 0]]), logits)), 4)  # the pad is not counted
    1.6094

    A model with a `caption` output takes it as
    `model.compile("adam", loss={"caption": CaptioningLoss()})`.

    References:
        - [Yu et al., 2022](https://arxiv.org/abs/2205.01917) (CoCa)
    """

    def __init__(self, pad_token_id=0, name="captioning_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_token_id = pad_token_id

    def call(self, y_true, y_pred):
        # Returned as is: the mask Keras attaches to this tensor is what makes
        # the reduction average over real tokens only.
        return keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=True, ignore_class=self.pad_token_id
        )

    def get_config(self):
        config = super().get_config()
        config["pad_token_id"] = self.pad_token_id
        return config
