"""Image classification: supervised on a backbone's image tower, or zero-shot
from class-name prompts on a dual encoder."""

from vlpk.models.classification.image_classifier import ImageClassifier
from vlpk.models.classification.zero_shot_image_classifier import (
    ZeroShotImageClassifier,
)

__all__ = ["ImageClassifier", "ZeroShotImageClassifier"]
