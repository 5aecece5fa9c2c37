"""Models: the dual encoder, the pretrainer, the task models, the course's."""

from vlpk.models.captioning import ImageCaptioner, ImageCaptionerPreprocessor
from vlpk.models.classification import ImageClassifier, ZeroShotImageClassifier
from vlpk.models.contrastive import (
    ContrastivePreprocessor,
    ContrastivePretrainer,
    DualEncoderBackbone,
    KerasHubContrastivePreprocessor,
    KerasHubContrastivePretrainer,
    KerasHubDualEncoderBackbone,
)
from vlpk.models.fusion_classifier import FusionClassifier
from vlpk.models.presets import load_task
from vlpk.models.task import VisionLanguageTask
from vlpk.models.vgg16_concat import vgg16_concat_classifier
from vlpk.models.vision_language import (
    ImageTextPretrainer,
    VisionLanguageBackbone,
    VisionLanguagePreprocessor,
)
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone, VisionLMPreprocessor
from vlpk.models.vqa import VQAClassifier, VQAClassifierPreprocessor

__all__ = [
    "VisionCausalLM",
    "VisionLMBackbone",
    "VisionLMPreprocessor",
    "ImageCaptioner",
    "ImageCaptionerPreprocessor",
    "ContrastivePreprocessor",
    "ContrastivePretrainer",
    "DualEncoderBackbone",
    "FusionClassifier",
    "ImageClassifier",
    "KerasHubContrastivePreprocessor",
    "KerasHubContrastivePretrainer",
    "KerasHubDualEncoderBackbone",
    "VisionLanguageTask",
    "ZeroShotImageClassifier",
    "load_task",
    "vgg16_concat_classifier",
    "ImageTextPretrainer",
    "VisionLanguageBackbone",
    "VisionLanguagePreprocessor",
    "VQAClassifier",
    "VQAClassifierPreprocessor",
]
