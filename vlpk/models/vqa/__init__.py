"""Visual question answering: a classifier over an answer vocabulary."""

from vlpk.models.vqa.vqa_classifier import VQAClassifier
from vlpk.models.vqa.vqa_classifier_preprocessor import VQAClassifierPreprocessor

__all__ = ["VQAClassifier", "VQAClassifierPreprocessor"]
