"""Replacing a folder atomically: build it next door, then rename it in."""

import os
import shutil
import uuid


def sibling(root, kind):
    """Creates a hidden, uniquely named folder next to `root`.

    Next to `root`, so renames stay on one file system (and are atomic); not
    `tempfile.mkdtemp`, whose private 0o700 mode the dataset would inherit.
    """
    path = os.path.join(
        os.path.dirname(root), f".{os.path.basename(root)}.{kind}-{uuid.uuid4().hex}"
    )
    os.mkdir(path)
    return path


def move_into_place(staging, root):
    """Renames `staging` to `root`, replacing whatever was there."""
    if os.path.lexists(root):
        # Move the old folder aside first: a rename cannot replace a non-empty
        # folder, and deleting first would leave no dataset if we crash.
        old = sibling(root, "old")
        os.rename(root, os.path.join(old, "dataset"))
        os.rename(staging, root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, root)
