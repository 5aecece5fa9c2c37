"""Evaluation metrics: retrieval (VQA and captioning arrive with their tasks)."""

from vlpk.metrics.retrieval import retrieval_metrics
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy

__all__ = ["MaskedTokenAccuracy", "retrieval_metrics"]
