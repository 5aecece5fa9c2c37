"""Pretraining objectives as `keras.losses.Loss` subclasses."""

from vlpk.losses.contrastive import (
    ContrastiveLoss,
    positive_targets,
    unpack_contrastive,
)

__all__ = ["ContrastiveLoss", "positive_targets", "unpack_contrastive"]
