"""Downstream tasks: retrieval, zero-shot and supervised classification, VQA,
captioning; and `vlpk finetune`'s config."""

from vlpk.tasks.config import TASKS, FinetuneConfig

__all__ = ["TASKS", "FinetuneConfig"]
