"""Downstream tasks: retrieval, zero-shot and supervised classification, VQA,
captioning; and `vlpk finetune`'s config and run-folder reading."""

from vlpk.tasks.config import TASKS, FinetuneConfig
from vlpk.tasks.run_dir import Run, load_run

__all__ = ["TASKS", "FinetuneConfig", "Run", "load_run"]
