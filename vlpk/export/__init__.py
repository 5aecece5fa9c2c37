"""Exports: TF Serving SavedModels (TFLite arrives with the export issue)."""

from vlpk.export.saved_model import dual_encoder_archive, export_saved_model
from vlpk.export.versioning import existing_versions, next_version

__all__ = [
    "dual_encoder_archive",
    "existing_versions",
    "export_saved_model",
    "next_version",
]
