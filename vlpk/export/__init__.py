"""Exports: TF Serving SavedModels with raw-bytes and raw-string signatures."""

from vlpk.export.saved_model import dual_encoder_archive, export_saved_model
from vlpk.export.task_archives import (
    answer_archive,
    caption_archive,
    pretrainer_archive,
)
from vlpk.export.versioning import existing_versions, next_version

__all__ = [
    "answer_archive",
    "caption_archive",
    "dual_encoder_archive",
    "existing_versions",
    "export_saved_model",
    "next_version",
    "pretrainer_archive",
]
