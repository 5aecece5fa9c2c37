"""Distributed training: choosing a strategy, and vlpk's multi-worker step."""

from vlpk.distribution.strategy import build_strategy, set_precision
from vlpk.distribution.trainer import DistributedTrainer

__all__ = ["DistributedTrainer", "build_strategy", "set_precision"]
