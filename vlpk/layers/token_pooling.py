"""Token pooling: reduces a (batch, tokens, dim) sequence to (batch, dim)."""

import keras
from keras import ops

MODES = ("cls", "mean")


@keras.saving.register_keras_serializable(package="vlpk")
class TokenPooling(keras.layers.Layer):
    """Pools a sequence of token vectors into one vector per example.

    - `"cls"`: take the first token (BERT's `[CLS]`, ViT's class token).
    - `"mean"`: average over the tokens. With a `padding_mask`, only the
      tokens where the mask is nonzero (or `True`) count; an all-padding row
      gives zeros rather than NaN.

    Args:
        mode: `"cls"` or `"mean"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: a float tensor of shape `(batch, tokens, dim)`.
        padding_mask: optional int or bool tensor of shape `(batch, tokens)`,
            nonzero for real tokens. Ignored by `"cls"`.

    Example:

    ```python
    import numpy as np
    from vlpk.layers import TokenPooling

    tokens = np.random.normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    TokenPooling("mean")(tokens, padding_mask=mask).shape  # (2, 8)
    ```
    """

    def __init__(self, mode="cls", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs, padding_mask=None):
        if self.mode == "cls":
            return inputs[:, 0, :]
        if padding_mask is None:
            return ops.mean(inputs, axis=1)
        mask = ops.cast(padding_mask, inputs.dtype)[:, :, None]
        total = ops.sum(inputs * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
