"""Pixel normalization: maps [0, 255] images to the range a backbone expects."""

import keras
from keras import ops

# ImageNet statistics, as used by `keras.applications.imagenet_utils`.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCH_STD_RGB = (0.229, 0.224, 0.225)

MODES = ("caffe", "tf", "torch", "unit", "none")


@keras.saving.register_keras_serializable(package="vlpk")
class PixelNormalization(keras.layers.Layer):
    """Normalizes float RGB images in `[0, 255]` for a given backbone.

    The modes mirror `keras.applications.imagenet_utils.preprocess_input`, so a
    model built with this layer in front of a backbone needs no separate
    `preprocess_input` call, and the normalization travels with the saved model.

    - `"caffe"`: RGB to BGR, then subtract the ImageNet mean per channel (no
      scaling). This is what VGG16 and ResNet50 from `keras.applications` expect.
    - `"tf"`: scale to `[-1, 1]`.
    - `"torch"`: scale to `[0, 1]`, then normalize with the ImageNet mean and
      standard deviation.
    - `"unit"`: scale to `[0, 1]`.
    - `"none"`: pass through (for backbones that preprocess internally, such as
      EfficientNetV2 and MobileNetV3 with `include_preprocessing=True`).

    Images are channels-last: the last axis holds the three RGB channels.

    Args:
        mode: one of `"caffe"`, `"tf"`, `"torch"`, `"unit"`, `"none"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    ```python
    import numpy as np
    from vlpk.layers import PixelNormalization

    images = np.random.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    PixelNormalization("tf")(images)  # values in [-1, 1]
    ```
    """

    def __init__(self, mode="none", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)
            return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN_RGB, dtype=x.dtype)
            std = ops.convert_to_tensor(_TORCH_STD_RGB, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "unit":
            return x / 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
