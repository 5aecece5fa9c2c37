"""Models: the dual encoder, the pretrainer, the fusion classifier, the course's."""

from vlpk.models.dual_encoder import DualEncoder
from vlpk.models.fusion_classifier import FusionClassifier
from vlpk.models.pretrainer import VisionLanguagePretrainer
from vlpk.models.vgg16_concat import vgg16_concat_classifier

__all__ = [
    "DualEncoder",
    "FusionClassifier",
    "VisionLanguagePretrainer",
    "vgg16_concat_classifier",
]
