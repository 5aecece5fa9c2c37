"""TF Serving's model layout: `<root>/<name>/<integer version>/`, written atomically.

TF Serving polls `<root>/<name>` and loads the highest numeric version. A
version folder must therefore appear complete or not at all: exports are
written into a hidden, non-numeric sibling folder on the same filesystem and
then renamed into place, which is atomic on POSIX.
"""

import os
import shutil
import uuid


def existing_versions(model_dir):
    """The integer versions already present under `model_dir`, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def next_version(model_dir):
    """One more than the highest existing version (1 for a new model)."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def write_version_atomically(model_dir, write_fn, version=None, overwrite=False):
    """Writes one version of a model with `write_fn(tmp_dir)`, then renames it.

    Args:
        model_dir: `<root>/<name>`.
        write_fn: a callable that writes the complete export into the folder
            it is given.
        version: the integer version; the next free one when None.
        overwrite: replace an existing version instead of refusing.

    Returns:
        `(version, final_path)`.

    Raises:
        FileExistsError: the version exists and `overwrite` is False.
    """
    os.makedirs(model_dir, exist_ok=True)
    if version is None:
        version = next_version(model_dir)
    version = int(version)
    if version < 0:
        raise ValueError(f"A version must be a non-negative integer, got {version}.")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final) and not overwrite:
        raise FileExistsError(
            f"{final} already exists. Pass overwrite=True (--overwrite) to replace "
            "it, or omit the version to write the next one."
        )
    # A leading dot and a non-numeric name: TF Serving ignores it while it fills.
    tmp = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
    try:
        write_fn(tmp)
        if os.path.exists(final):
            # Move the old version aside first so a reader never sees a gap
            # filled with a partial folder.
            trash = os.path.join(model_dir, f".old-{version}-{uuid.uuid4().hex[:8]}")
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return version, final
