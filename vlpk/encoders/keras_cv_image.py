"""Image encoders from KerasCV 0.9 backbones (optional: `pip install
"vlpk[kerascv]"`).

KerasCV is in maintenance mode and its models moved to KerasHub; prefer
`image_encoder_from_keras_hub` for new work. This adapter serves projects that
already have KerasCV backbones.
"""

import warnings

from vlpk.encoders.image_encoder import ImageEncoder
from vlpk.encoders.weights import load_preset_backbone

_INSTALL_HINT = (
    'KerasCV backbones need the optional keras-cv package: pip install "vlpk[kerascv]"'
    " (that is, keras-cv~=0.9.0)."
)


def import_keras_cv():
    """Imports `keras_cv`, or raises an `ImportError` that says how to install it.

    Example:

    ```python
    keras_cv = import_keras_cv()
    ```
    """
    try:
        import keras_cv
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return keras_cv


def image_encoder_from_keras_cv(backbone, output="pooled", normalization="unit"):
    """Builds an `ImageEncoder` on a KerasCV backbone.

    Many KerasCV backbones take `include_rescaling`: when it is `True` the
    backbone already scales `[0, 255]` pixels itself, so pass
    `normalization="none"`.

    Args:
        backbone: a `keras_cv.models.Backbone` instance, or a KerasCV preset
            name or local preset directory (loaded with
            `keras_cv.models.Backbone.from_preset` under the offline-weights
            policy).
        output: `"pooled"` or `"tokens"`.
        normalization: the `PixelNormalization` mode.

    Returns:
        An `ImageEncoder`.

    Raises:
        ImportError: keras-cv is not installed.
        WeightsUnavailableError: a preset had to be downloaded and could not.

    Example:

    ```python
    import keras_cv
    from vlpk.encoders import image_encoder_from_keras_cv

    backbone = keras_cv.models.ResNetBackbone(
        stackwise_filters=[8, 16], stackwise_blocks=[1, 1],
        stackwise_strides=[1, 2], include_rescaling=False,
        input_shape=(32, 32, 3),
    )
    encoder = image_encoder_from_keras_cv(backbone, output="pooled")
    ```
    """
    keras_cv = import_keras_cv()
    if isinstance(backbone, str):
        backbone = load_preset_backbone(
            backbone, loader=keras_cv.models.Backbone.from_preset
        )
    if getattr(backbone, "include_rescaling", False) and normalization != "none":
        warnings.warn(
            f"The KerasCV backbone {backbone.name!r} has include_rescaling=True "
            f"and already rescales its inputs; normalization={normalization!r} "
            'rescales them a second time. Pass normalization="none".',
            stacklevel=2,
        )
    return ImageEncoder(
        backbone,
        output=output,
        normalization=normalization,
        name=f"{backbone.name}_image_encoder",
    )
