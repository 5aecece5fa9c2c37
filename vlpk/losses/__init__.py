"""Pretraining objectives as `keras.losses.Loss` subclasses."""

from vlpk.losses.answer import AnswerLoss
from vlpk.losses.captioning import CaptioningLoss
from vlpk.losses.contrastive import (
    ContrastiveLoss,
    positive_targets,
    unpack_contrastive,
)
from vlpk.losses.gather import gather_from_replicas
from vlpk.losses.sigmoid import SigmoidContrastiveLoss

__all__ = [
    "AnswerLoss",
    "CaptioningLoss",
    "ContrastiveLoss",
    "SigmoidContrastiveLoss",
    "gather_from_replicas",
    "positive_targets",
    "unpack_contrastive",
]
