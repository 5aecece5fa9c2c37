"""Models: the dual encoder, the fusion classifier and the course builder."""

from vlpk.models.dual_encoder import DualEncoder
from vlpk.models.fusion_classifier import FusionClassifier
from vlpk.models.vgg16_concat import vgg16_concat_classifier

__all__ = ["DualEncoder", "FusionClassifier", "vgg16_concat_classifier"]
