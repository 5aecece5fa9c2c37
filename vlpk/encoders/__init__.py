"""Image and text encoders.

An `ImageEncoder` takes `images` (float32 RGB in `[0, 255]`) and returns
pooled vectors or tokens; a `TextEncoder` takes `token_ids` and `padding_mask`
and returns `sequence_output` and `pooled_output`. Builders cover
`keras.applications`, KerasHub, KerasCV (optional extra) and your own models.
"""

from vlpk.encoders.applications import (
    applications_backbone,
    image_encoder_from_applications,
)
from vlpk.encoders.image_encoder import ImageEncoder
from vlpk.encoders.keras_cv_image import image_encoder_from_keras_cv
from vlpk.encoders.keras_hub_image import image_encoder_from_keras_hub
from vlpk.encoders.small_cnn import small_cnn
from vlpk.encoders.text_builders import (
    bert_encoder,
    distilbert_encoder,
    roberta_encoder,
    text_encoder_from_preset,
)
from vlpk.encoders.text_encoder import TextEncoder
from vlpk.encoders.weights import (
    PresetNotFoundError,
    WeightsUnavailableError,
    load_keras_hub_preset,
)

__all__ = [
    "ImageEncoder",
    "PresetNotFoundError",
    "TextEncoder",
    "WeightsUnavailableError",
    "applications_backbone",
    "bert_encoder",
    "distilbert_encoder",
    "image_encoder_from_applications",
    "image_encoder_from_keras_cv",
    "image_encoder_from_keras_hub",
    "load_keras_hub_preset",
    "roberta_encoder",
    "small_cnn",
    "text_encoder_from_preset",
]
