"""Evaluation metrics: retrieval (VQA and captioning arrive with their tasks)."""

from vlpk.metrics.retrieval import retrieval_metrics

__all__ = ["retrieval_metrics"]
