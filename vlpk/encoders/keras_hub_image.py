"""Image encoders from KerasHub image backbones (ViT, ResNet, EfficientNet,
MobileNet, VGG, ...)."""

from vlpk.encoders.image_encoder import ImageEncoder
from vlpk.encoders.weights import load_preset_backbone


def image_encoder_from_keras_hub(
    backbone, output="pooled", image_size=None, normalization="unit"
):
    """Builds an `ImageEncoder` on a KerasHub image backbone.

    KerasHub image backbones leave rescaling to their `ImageConverter`
    preprocessor, so the encoder normalizes instead: pick `normalization` to
    match the preset's image converter (for instance `"tf"` for ViT presets,
    which scale to `[-1, 1]`, and `"torch"` for ResNet presets, which use the
    ImageNet mean and standard deviation). A ViT returns tokens (class token
    first), so `output="pooled"` averages them; use `output="tokens"` and
    `vlpk.layers.TokenPooling("cls")` for the class token.

    Args:
        backbone: a `keras_hub.models.Backbone` for images (`ViTBackbone`,
            `ResNetBackbone`, `EfficientNetBackbone`, `MobileNetBackbone`,
            `VGGBackbone`, ...), or a preset name or local preset directory,
            loaded with `keras_hub.models.Backbone.from_preset` under the
            offline-weights policy (`vlpk.encoders.weights`).
        output: `"pooled"` or `"tokens"`.
        image_size: `int` or `(height, width)`; defaults to the backbone's.
            Needed when the backbone accepts any size and you want a fixed one.
        normalization: the `PixelNormalization` mode.

    Returns:
        An `ImageEncoder`.

    Raises:
        WeightsUnavailableError: a preset had to be downloaded and could not.

    Example:

    ```python
    import keras_hub
    from vlpk.encoders import image_encoder_from_keras_hub

    vit = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3), patch_size=16, num_layers=1, num_heads=2,
        hidden_dim=16, mlp_dim=32,
    )
    encoder = image_encoder_from_keras_hub(vit, output="tokens", normalization="tf")
    encoder.output_dim  # 16
    ```
    """
    if isinstance(backbone, str):
        backbone = load_preset_backbone(backbone)
    return ImageEncoder(
        backbone,
        output=output,
        normalization=normalization,
        image_size=image_size,
        name=f"{backbone.name}_image_encoder",
    )
