"""Image encoders from `keras.applications` (VGG16, ResNet50, EfficientNetV2,
MobileNetV3).

Each backbone is built with `include_top=False`, so it returns a feature map,
and comes with the pixel normalization it was trained with: VGG16 and ResNet50
expect "caffe" inputs, while EfficientNetV2 and MobileNetV3 are built with
`include_preprocessing=True` and take raw `[0, 255]` pixels. Pretrained weights
go through the offline-weights policy of `vlpk.encoders.weights`.
"""

import keras

from vlpk.encoders.image_encoder import ImageEncoder
from vlpk.encoders.weights import load_application

# vlpk name -> (keras.applications constructor name, normalization mode,
# whether the constructor takes `include_preprocessing`).
_APPLICATIONS = {
    "vgg16": ("VGG16", "caffe", False),
    "resnet50": ("ResNet50", "caffe", False),
    "efficientnetv2b0": ("EfficientNetV2B0", "none", True),
    "efficientnetv2b1": ("EfficientNetV2B1", "none", True),
    "efficientnetv2b2": ("EfficientNetV2B2", "none", True),
    "efficientnetv2b3": ("EfficientNetV2B3", "none", True),
    "efficientnetv2s": ("EfficientNetV2S", "none", True),
    "efficientnetv2m": ("EfficientNetV2M", "none", True),
    "efficientnetv2l": ("EfficientNetV2L", "none", True),
    "mobilenetv3small": ("MobileNetV3Small", "none", True),
    "mobilenetv3large": ("MobileNetV3Large", "none", True),
}

APPLICATION_NAMES = tuple(_APPLICATIONS)


def applications_backbone(name="vgg16", image_size=64, weights=None, trainable=True):
    """Builds a headless `keras.applications` backbone.

    Args:
        name: one of `vlpk.encoders.applications.APPLICATION_NAMES`: `"vgg16"`,
            `"resnet50"`, `"efficientnetv2b0"` to `"efficientnetv2b3"`,
            `"efficientnetv2s"`, `"efficientnetv2m"`, `"efficientnetv2l"`,
            `"mobilenetv3small"`, `"mobilenetv3large"`.
        image_size: side of the square input images.
        weights: `None` (random), `"imagenet"` (from the Keras cache, or
            downloaded) or the path to a weights file.
        trainable: whether the backbone's weights are trained.

    Returns:
        `(backbone, normalization_mode)`: the functional model, mapping
        `(batch, image_size, image_size, 3)` images to a feature map, and the
        `PixelNormalization` mode its inputs need.

    Raises:
        ValueError: `name` is unknown.
        WeightsUnavailableError: `weights="imagenet"` needs a download that
            failed.

    Example:

    ```python
    from vlpk.encoders import applications_backbone

    backbone, mode = applications_backbone("mobilenetv3small", image_size=64)
    mode  # "none": MobileNetV3 rescales its inputs itself
    ```
    """
    key = str(name).lower()
    if key not in _APPLICATIONS:
        raise ValueError(
            f"Unknown keras.applications backbone name={name!r}. "
            f"Valid names: {', '.join(APPLICATION_NAMES)}."
        )
    constructor_name, mode, has_preprocessing = _APPLICATIONS[key]
    kwargs = {"include_top": False, "input_shape": (image_size, image_size, 3)}
    if has_preprocessing:
        kwargs["include_preprocessing"] = True
    constructor = getattr(keras.applications, constructor_name)
    backbone = load_application(constructor, weights=weights, **kwargs)
    backbone.trainable = trainable
    return backbone, mode


def image_encoder_from_applications(
    name="vgg16", image_size=64, weights=None, output="pooled", trainable=True
):
    """Builds an `ImageEncoder` on a `keras.applications` backbone.

    The encoder takes `[0, 255]` images and applies the normalization the
    backbone expects.

    Args:
        name: the backbone name, see `applications_backbone`.
        image_size: side of the square input images.
        weights: `None`, `"imagenet"` or the path to a weights file.
        output: `"pooled"` for `(batch, dim)` or `"tokens"` for
            `(batch, positions, dim)`.
        trainable: whether the backbone's weights are trained.

    Returns:
        An `ImageEncoder`.

    Example:

    ```python
    import numpy as np
    from vlpk.encoders import image_encoder_from_applications

    encoder = image_encoder_from_applications("vgg16", image_size=32)
    encoder(np.zeros((2, 32, 32, 3), "float32")).shape  # (2, 512)
    ```
    """
    backbone, mode = applications_backbone(
        name, image_size=image_size, weights=weights, trainable=trainable
    )
    return ImageEncoder(
        backbone,
        output=output,
        normalization=mode,
        image_size=image_size,
        name=f"{str(name).lower()}_image_encoder",
    )
