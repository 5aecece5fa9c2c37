"""Exports: TF Serving SavedModels with raw-bytes and raw-string signatures.

Each task declares its signatures (`serving_signatures()`) and builds its
archive (`serving_archive()`); `export_saved_model` writes it as a version.
"""

from vlpk.export.saved_model import export_saved_model
from vlpk.export.versioning import existing_versions, next_version

__all__ = ["existing_versions", "export_saved_model", "next_version"]
