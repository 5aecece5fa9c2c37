"""`ImageEncoder`: any image backbone behind one input and one output contract."""

import keras

from vlpk.layers.pixel_normalization import PixelNormalization
from vlpk.layers.token_pooling import TokenPooling
from vlpk.serialization import deserialize_nested

OUTPUTS = ("pooled", "tokens")

# Keys, in order of preference, that name the final feature of a backbone that
# returns a dict.
_SEQUENCE_KEYS = ("sequence_output", "last_hidden_state", "image_features")


@keras.saving.register_keras_serializable(package="vlpk")
class ImageEncoder(keras.Model):
    """Wraps an image backbone: `[0, 255]` images in, features out.

    The encoder has a single input, `images`: float32 RGB images in `[0, 255]`
    of shape `(batch, H, W, 3)`. It normalizes them with
    `PixelNormalization(normalization)`, runs the backbone and shapes its output:

    | backbone output            | `output="tokens"`     | `output="pooled"`         |
    |----------------------------|-----------------------|---------------------------|
    | feature map `(B, h, w, C)` | `(B, h * w, C)`       | `(B, C)`, global average  |
    | tokens `(B, N, D)`         | `(B, N, D)`           | `(B, D)`, mean of tokens  |
    | vector `(B, D)`            | `(B, 1, D)`           | `(B, D)`                  |

    Backbones that return a dict (some KerasHub backbones) give their
    `"sequence_output"` (or `"last_hidden_state"`, `"image_features"`) entry
    if present, and otherwise their last entry; backbones that return a list
    give its last element, which for feature pyramids is the deepest level.
    A backbone whose input is a dict receives the images under its `"images"`
    key (or its only key).

    Args:
        backbone: a Keras model that maps normalized images to features, e.g.
            a `keras.applications` model with `include_top=False`, a KerasHub
            image `Backbone`, or your own functional model (`small_cnn`).
        output: `"pooled"` or `"tokens"`.
        normalization: the `PixelNormalization` mode the backbone expects:
            `"caffe"`, `"tf"`, `"torch"`, `"unit"` or `"none"`.
        image_size: `int` or `(height, width)`. Defaults to the backbone's
            input size; must match it when the backbone's size is fixed.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:

    ```python
    import numpy as np
    from vlpk.encoders import ImageEncoder, small_cnn

    encoder = ImageEncoder(small_cnn(32), output="tokens", normalization="unit")
    encoder(np.zeros((2, 32, 32, 3), "float32")).shape  # (2, 16, 128)
    ```
    """

    def __init__(
        self, backbone, output="pooled", normalization="none", image_size=None, **kwargs
    ):
        if output not in OUTPUTS:
            raise ValueError(
                f"`output` must be one of {OUTPUTS}. Received: output={output!r}"
            )
        if isinstance(image_size, (list, tuple)):
            image_size = tuple(int(s) for s in image_size)
        height, width = _image_size(backbone, image_size)

        # === Layers ===
        self.backbone = backbone
        self.pixel_normalization = PixelNormalization(
            normalization, name="pixel_normalization"
        )

        # === Functional Model ===
        images = keras.Input(shape=(height, width, 3), dtype="float32", name="images")
        x = self.pixel_normalization(images)
        x = _call_backbone(backbone, x)
        x = _select_feature(x)
        rank = len(x.shape)
        if rank not in (2, 3, 4):
            raise ValueError(
                "The backbone's output must be a feature map (batch, h, w, c), "
                "tokens (batch, n, d) or vectors (batch, d). Received shape "
                f"{tuple(x.shape)}."
            )
        if output == "tokens":
            if rank == 4:
                h, w, channels = x.shape[1:]
                positions = h * w if h is not None and w is not None else -1
                x = keras.layers.Reshape((positions, channels), name="to_tokens")(x)
            elif rank == 2:
                x = keras.layers.Reshape((1, x.shape[-1]), name="to_tokens")(x)
        else:
            if rank == 4:
                x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
            elif rank == 3:
                x = TokenPooling("mean", name="pool")(x)
        super().__init__(inputs=images, outputs=x, **kwargs)

        # === Config ===
        self.output_mode = output
        self.normalization = normalization
        self.image_size = image_size
        self._output_dim = x.shape[-1]

    @property
    def output_dim(self):
        """Size of the last axis of the output."""
        return self._output_dim

    def get_config(self):
        # Like KerasHub backbones, do not chain to `Functional.get_config`: the
        # constructor arguments are the config.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "output": self.output_mode,
            "normalization": self.normalization,
            "image_size": self.image_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("backbone",)))


def _backbone_image_shape(backbone):
    """The backbone's `(height, width)`, or `(None, None)` if it has none."""
    try:
        inputs = backbone.inputs
    except (AttributeError, ValueError):  # an unbuilt subclassed model
        return None, None
    if not inputs:
        return None, None
    shape = tuple(inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(
            "The backbone's input must be images (batch, height, width, "
            f"channels). Received input shape {shape}."
        )
    return shape[1], shape[2]


def _image_size(backbone, image_size):
    fixed = _backbone_image_shape(backbone)
    if image_size is None:
        return fixed
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if len(size) != 2:
        raise ValueError(
            f"`image_size` must be an int or (height, width). Received: {image_size}"
        )
    for want, have in zip(size, fixed):
        if have is not None and want != have:
            raise ValueError(
                f"image_size={image_size} does not match the backbone's input "
                f"size {fixed}. Rebuild the backbone for this size or leave "
                "image_size=None."
            )
    return size


def _call_backbone(backbone, images):
    structure = None
    if isinstance(backbone, keras.Model) and backbone.built:
        try:
            structure = backbone.input
        except (AttributeError, ValueError):  # a subclassed model
            structure = None
    if isinstance(structure, dict):
        key = "images" if "images" in structure else next(iter(structure))
        return backbone({key: images})
    return backbone(images)


def _select_feature(outputs):
    if isinstance(outputs, dict):
        for key in _SEQUENCE_KEYS:
            if key in outputs:
                return outputs[key]
        return outputs[list(outputs)[-1]]
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    return outputs
