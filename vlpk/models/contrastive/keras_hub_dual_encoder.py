"""A KerasHub CLIP or SigLIP model as the backbone of vlpk's contrastive task."""

import keras
import keras_hub

from vlpk.encoders.weights import load_keras_hub_preset
from vlpk.layers.head_logit_scale import CLIP_MAX_LOGIT_SCALE, HeadLogitScale
from vlpk.models.contrastive.outputs import dual_encoder_graph
from vlpk.models.inputs import text_inputs
from vlpk.serialization import deserialize_backbone_config

# The attribute under which each KerasHub dual encoder keeps its head.
HEADS = ("clip_head", "siglip_head")


@keras.saving.register_keras_serializable(package="vlpk")
class KerasHubDualEncoderBackbone(keras_hub.models.Backbone):
    """A KerasHub `CLIPBackbone` or `SigLIPBackbone` with vlpk's interface.

    It has the inputs, outputs and methods of
    `vlpk.models.DualEncoderBackbone`, so `vlpk.models.ContrastivePretrainer`
    trains it on raw data with vlpk's losses, and a pretrained CLIP or SigLIP
    preset is where training starts. Inputs are a dict:

    - `images` `[B, H, W, 3]`: float pixels in 0–255 at the model's image
      size, as every vlpk backbone takes them. The backbone applies the
      image converter's `scale` and `offset` itself (a `Rescaling` layer in
      front of the vision encoder), so the normalization a checkpoint was
      trained with is saved with its weights, as vlpk's `ImageEncoder` keeps
      its `PixelNormalization`. `KerasHubContrastivePreprocessor` does the
      rest of the converter's work: decoding and its crop and resize.
    - `token_ids` and `padding_mask` `[B, T]` (int32): the mask is accepted
      for vlpk's interface and not used: CLIP pools at the end token and
      SigLIP at the last position, as in KerasHub.

    Outputs are a dict:

    - `image_embedding`, `text_embedding`: KerasHub's
      `get_vision_embeddings` and `get_text_embeddings`, L2-normalized;
    - `contrastive`: both embeddings and the head's own `exp(logit_scale)`
      (and SigLIP's `logit_bias`) packed by `vlpk.layers.HeadLogitScale`,
      the `y_pred` of `vlpk.losses.ContrastiveLoss` and
      `SigmoidContrastiveLoss`. The head's variables are shared, not copied:
      training moves them, and no other variable is added.

    Args:
        backbone: a KerasHub `CLIPBackbone` or `SigLIPBackbone` (or any
            KerasHub backbone with `get_vision_embeddings`,
            `get_text_embeddings` and a `clip_head` or `siglip_head`).
        image_scale: the image converter's `scale` (a float, or one per
            channel); None for 1.
        image_offset: the image converter's `offset`; None for 0.
        max_logit_scale: the cap on `exp(logit_scale)` in the packed output.
            `"auto"` is CLIP's 100 (as `vlpk.layers.LogitScale`) for a head
            without bias, and no cap for SigLIP's: big_vision does not clip
            SigLIP's scale, and released SigLIP checkpoints learned one above
            100 (about 117), which a cap would change. A float or None sets it.
        dtype: the dtype policy of the layers this class adds; the KerasHub
            backbone keeps its own.

    Example:
    >>> import tempfile, numpy as np
    >>> preset = tempfile.mkdtemp()  # a tiny CLIP, saved as KerasHub saves one
    >>> keras_hub.models.CLIPBackbone(
    ...     keras_hub.models.CLIPVisionEncoder(4, 8, 1, 2, 16, image_shape=(16, 16, 3)),
    ...     keras_hub.models.CLIPTextEncoder(10, 8, 8, 1, 2, 16, max_sequence_length=6),
    ...     projection_dim=4).save_to_preset(preset)
    >>> converter = keras_hub.layers.CLIPImageConverter((16, 16), scale=1 / 255)
    >>> converter.save_to_preset(preset)
    >>> backbone = KerasHubDualEncoderBackbone.from_keras_hub_preset(preset)
    >>> backbone.get_image_embeddings(np.zeros((2, 16, 16, 3))).shape  # 0–255
    TensorShape([2, 4])
    >>> backbone.image_scale == 1 / 255, backbone.has_logit_bias  # CLIP: no bias
    (True, False)
    """

    def __init__(
        self,
        backbone,
        image_scale=None,
        image_offset=None,
        max_logit_scale="auto",
        dtype=None,
        **kwargs,
    ):
        head = _head(backbone)
        if max_logit_scale == "auto":
            siglip = getattr(head, "logit_bias", None) is not None
            max_logit_scale = None if siglip else CLIP_MAX_LOGIT_SCALE

        # === Layers ===
        self.keras_hub_backbone = backbone
        self.image_rescaling = keras.layers.Rescaling(
            1.0 if image_scale is None else image_scale,
            0.0 if image_offset is None else image_offset,
            dtype=dtype,
            name="image_rescaling",
        )
        # KerasHub's heads divide by the root of the sum of squares; so does
        # this, up to the epsilon that keeps a zero vector finite.
        self.image_normalization = keras.layers.UnitNormalization(
            dtype=dtype, name="image_normalization"
        )
        self.text_normalization = keras.layers.UnitNormalization(
            dtype=dtype, name="text_normalization"
        )
        self.logit_scale_layer = HeadLogitScale(
            head, max_logit_scale=max_logit_scale, dtype=dtype, name="logit_scale"
        )

        # === Functional model ===
        image_shape = tuple(backbone.input["images"].shape[1:])
        images = keras.Input(shape=image_shape, dtype="float32", name="images")
        text = text_inputs()
        inputs, outputs = dual_encoder_graph(self, images, text)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.image_scale = image_scale
        self.image_offset = image_offset
        self.max_logit_scale = max_logit_scale

    @classmethod
    def from_keras_hub_preset(cls, preset, **kwargs):
        """The backbone of a KerasHub CLIP or SigLIP preset, with its scaling.

        The KerasHub backbone and its image converter (for `scale` and
        `offset`) load from the same preset, under vlpk's offline policy (see
        `vlpk.encoders.load_keras_hub_preset`).

        Args:
            preset: a preset name (`"clip_vit_base_patch16"`,
                `"siglip_base_patch16_224"`), a `kaggle://` or `hf://` handle,
                or a preset folder.
            **kwargs: passed to `keras_hub.models.Backbone.from_preset`
                (e.g. `load_weights=False`).

        Raises:
            vlpk.encoders.WeightsUnavailableError: a name or handle could not
                be downloaded.
            vlpk.encoders.PresetNotFoundError: a folder does not exist.
        """
        backbone = load_keras_hub_preset(keras_hub.models.Backbone, preset, **kwargs)
        converter = load_keras_hub_preset(keras_hub.layers.ImageConverter, preset)
        return cls(backbone, image_scale=converter.scale, image_offset=converter.offset)

    def get_image_embeddings(self, images):
        """L2-normalized image embeddings from 0–255 pixels."""
        pixels = self.image_rescaling(images)
        features = self.keras_hub_backbone.get_vision_embeddings(pixels)
        return self.image_normalization(features)

    def get_text_embeddings(self, token_ids, padding_mask=None):
        """L2-normalized text embeddings (`padding_mask` is not used)."""
        features = self.keras_hub_backbone.get_text_embeddings(token_ids)
        return self.text_normalization(features)

    @property
    def temperature(self):
        """The current temperature, `1 / logit_scale` (as packed)."""
        return 1.0 / float(self.logit_scale_layer.logit_scale())

    @property
    def has_logit_bias(self):
        """Whether a bias is packed (SigLIP): the task then uses a sigmoid loss."""
        return self.logit_scale_layer.has_bias

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.keras_hub_backbone),
                "image_scale": self.image_scale,
                "image_offset": self.image_offset,
                "max_logit_scale": self.max_logit_scale,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_backbone_config(config, ("backbone",)))


def _head(backbone):
    for name in HEADS:
        head = getattr(backbone, name, None)
        if head is not None:
            return head
    raise ValueError(
        "KerasHubDualEncoderBackbone takes a KerasHub CLIPBackbone or "
        f"SigLIPBackbone (a backbone with one of {HEADS}); got "
        f"{type(backbone).__name__}."
    )
