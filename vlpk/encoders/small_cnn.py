"""A tiny convolutional backbone for fast CPU runs, tests, and as a template.

This is the "bring your own model" example: any functional Keras model that
maps images to a feature map (or to tokens, or to vectors) can be wrapped in an
`ImageEncoder` the same way.
"""

import keras


def small_cnn(image_size=64, widths=(32, 64, 128), name="small_cnn"):
    """Builds a small Conv-BN-ReLU network that returns a feature map.

    Each width adds one 3x3 convolution with stride 2, batch normalization and
    ReLU, so the map is `image_size / 2**len(widths)` on a side. Inputs are
    normalized images (e.g. `[0, 1]`, see `PixelNormalization("unit")`).

    Args:
        image_size: side of the square input images, or `None` for any size.
        widths: number of filters of each block.
        name: the model name.

    Returns:
        A functional `keras.Model` from `(batch, image_size, image_size, 3)` to
        `(batch, image_size / 2**len(widths), ..., widths[-1])`.

    Example:

    ```python
    from vlpk.encoders import ImageEncoder, small_cnn

    encoder = ImageEncoder(small_cnn(64), normalization="unit")
    encoder.output_dim  # 128
    ```
    """
    inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
    x = inputs
    for index, width in enumerate(widths):
        prefix = f"block{index + 1}"
        x = keras.layers.Conv2D(
            width, 3, strides=2, padding="same", use_bias=False, name=f"{prefix}_conv"
        )(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}_bn")(x)
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    return keras.Model(inputs, x, name=name)
