"""A tiny convolutional backbone for fast CPU runs, tests, and as a template.

This is the "bring your own model" example: any functional Keras model that
maps images to a feature map (or to tokens, or to vectors) can be wrapped in an
`ImageEncoder` the same way.
"""

import keras


def small_cnn(image_size=64, widths=(32, 64, 128), norm="group", name="small_cnn"):
    """Builds a small Conv-Norm-ReLU network that returns a feature map.

    Each width adds one 3x3 convolution with stride 2, a normalization and
    ReLU, so the map is `image_size / 2**len(widths)` on a side. Inputs are
    normalized images (e.g. `[0, 1]`, see `PixelNormalization("unit")`).

    The default is group normalization, not batch normalization: it behaves
    the same in training and inference. With batch normalization, short
    contrastive runs evaluate on moving statistics that lag the fast-changing
    weights, and validation recall swung between 5% and 80% from one epoch to
    the next on Shapes.

    Args:
        image_size: side of the square input images, or `None` for any size.
        widths: number of filters of each block.
        norm: "group" (8 groups), "batch" or None.
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
        if norm == "group":
            x = keras.layers.GroupNormalization(
                groups=min(8, width), name=f"{prefix}_gn"
            )(x)
        elif norm == "layer":
            # Per-pixel normalization over channels (ConvNeXt style).
            x = keras.layers.LayerNormalization(name=f"{prefix}_ln")(x)
        elif norm == "batch":
            x = keras.layers.BatchNormalization(name=f"{prefix}_bn")(x)
        elif norm is not None:
            raise ValueError(
                f"norm must be 'group', 'layer', 'batch' or None, got {norm!r}."
            )
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    return keras.Model(inputs, x, name=name)
