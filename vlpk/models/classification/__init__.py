"""Image classification on a dual encoder: zero-shot, then fine-tuned."""

from vlpk.models.classification.zero_shot_image_classifier import (
    ZeroShotImageClassifier,
)

__all__ = ["ZeroShotImageClassifier"]
