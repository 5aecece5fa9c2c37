"""Captioning: the `ImageCaptioner` task and its preprocessor."""

from vlpk.models.captioning.image_captioner import ImageCaptioner
from vlpk.models.captioning.image_captioner_preprocessor import (
    ImageCaptionerPreprocessor,
)

__all__ = ["ImageCaptioner", "ImageCaptionerPreprocessor"]
