"""Writing the Shapes dataset to disk, once: a cached, atomically placed folder.

`write_shapes` writes the dataset in the real COCO captions and VQA v2 formats,
so the very readers that serve COCO and VQA also serve Shapes.
"""

import os
import re
import shutil
import sys
import time
import zlib

import numpy as np

from vlpk.data.shapes.formats import write_json, write_split
from vlpk.data.shapes.layout import FORMAT_VERSION, MARKER, read_marker, shapes_paths
from vlpk.data.shapes.scene import check_image_size
from vlpk.data.shapes.staging import move_into_place, sibling
from vlpk.errors import InputError

DEFAULT_SPLITS = {"train": 2000, "val": 200, "test": 500}

_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def split_seed(seed, split):
    """The seed the examples of `split` are generated from.

    Each split gets its own stream, derived from `seed` and the split's name,
    so `write_shapes` can be reproduced in memory:
    `generate_examples(n, split_seed(seed, split), image_size)`.

    Example:

    >>> from vlpk.data.synthetic import split_seed
    >>> split_seed(0, "train") != split_seed(0, "val")
    True
    """
    # crc32, not hash(): Python salts string hashes per process.
    entropy = [seed, zlib.crc32(split.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def write_shapes(
    root, seed=0, image_size=64, splits=None, overwrite=False, progress=True
):
    """Writes the Shapes dataset to `root` in the COCO and VQA v2 formats.

    The layout is:

    ```
    root/shapes.json                                 parameters and counts
    root/images/<split>/<image_id:012d>.jpg
    root/annotations/captions_<split>.json           COCO captions
    root/annotations/vqa_<split>_questions.json      VQA v2 questions
    root/annotations/vqa_<split>_annotations.json    VQA v2 answers
    root/annotations/labels_<split>.json             class labels
    ```

    Image ids are unique across splits. When `root` already holds a Shapes
    dataset written with the same parameters, nothing is regenerated. The
    dataset is generated in a temporary sibling folder and renamed into place,
    so an interrupted run never leaves a dataset that looks complete.

    Args:
        root: the folder to write to.
        seed: non-negative integer seed; each split derives its own seed from it
            (see `split_seed`).
        image_size: side of the square images, in pixels (at least 24).
        splits: mapping of split name -> number of images. Defaults to
            `{"train": 2000, "val": 200, "test": 500}`.
        overwrite: replace a dataset (or any folder) at `root` that was written
            with other parameters.
        progress: print one line per split to stderr.

    Returns:
        `{"root": root, "splits": {split: shapes_paths(root, split)}}`.

    Raises:
        InputError: (a `ValueError`) when the arguments are invalid, or when
            `root` exists with other contents and `overwrite` is False.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.synthetic import write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> paths = write_shapes(
    ...     root, image_size=32, splits={"train": 4, "val": 2}, progress=False
    ... )
    >>> os.path.relpath(paths["splits"]["train"]["captions"], root)
    'annotations/captions_train.json'
    >>> sorted(os.listdir(os.path.join(root, "images")))
    ['train', 'val']
    """
    splits = dict(DEFAULT_SPLITS if splits is None else splits)
    _check_arguments(seed, image_size, splits)
    root = os.path.abspath(os.fspath(root))
    params = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "image_size": image_size,
        "splits": splits,
    }
    if _holds_dataset(root, params):
        _log(progress, f"Shapes: using the cached dataset in {root}")
        return _all_paths(root, splits)
    if os.path.lexists(root) and not overwrite and not _is_empty_dir(root):
        raise InputError(_conflict_message(root))

    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    staging = sibling(root, "tmp")
    try:
        counts = _write_splits(staging, params, progress)
        # The marker is written last: its presence means the dataset is whole.
        write_json(os.path.join(staging, MARKER), {**params, "counts": counts}, 2)
        move_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _log(progress, f"Shapes: dataset ready in {root}")
    return _all_paths(root, splits)


def _check_arguments(seed, image_size, splits):
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}.")
    check_image_size(image_size)
    if not splits:
        raise InputError("splits must name at least one split, e.g. {'train': 100}.")
    for name, count in splits.items():
        if not isinstance(name, str) or not _SPLIT_NAME.match(name):
            raise InputError(
                f"Split names are used in file names and may only hold letters, "
                f"digits, '_' and '-'; got {name!r}."
            )
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InputError(
                f"splits[{name!r}] must be a non-negative integer, got {count!r}."
            )


# ---------------------------------------------------------------------------
# The cache: is the dataset already there?
# ---------------------------------------------------------------------------


def _holds_dataset(root, params):
    marker = read_marker(root)
    if marker is None:
        return False
    stored = {key: marker.get(key) for key in params}
    # Compare the split order too: image ids are numbered across splits in order.
    if stored != params or list(stored["splits"]) != list(params["splits"]):
        return False
    # Cheap guard against annotation files deleted by hand since.
    return all(
        os.path.exists(path)
        for split in params["splits"]
        for path in shapes_paths(root, split).values()
    )


def _is_empty_dir(path):
    return os.path.isdir(path) and not os.listdir(path)


def _conflict_message(root):
    marker = read_marker(root)
    if marker is None:
        found = "exists and is not a Shapes dataset"
    else:
        stored = {key: marker.get(key) for key in ("seed", "image_size", "splits")}
        found = f"holds a Shapes dataset written with other parameters {stored}"
    return (
        f"{root} {found}. Pass overwrite=True to replace it, or choose another "
        "directory."
    )


# ---------------------------------------------------------------------------
# Writing the splits
# ---------------------------------------------------------------------------


def _write_splits(root, params, progress):
    """Writes every split under `root`; returns the per-split counts."""
    os.makedirs(os.path.join(root, "annotations"))
    counts = {}
    next_image_id = 1
    for split, num_images in params["splits"].items():
        start = time.perf_counter()
        seed = split_seed(params["seed"], split)
        counts[split] = write_split(
            root, split, num_images, seed, params["image_size"], next_image_id
        )
        next_image_id += num_images
        seconds = time.perf_counter() - start
        _log(
            progress,
            f"Shapes: wrote {split} ({num_images} images, "
            f"{counts[split]['questions']} questions) in {seconds:.1f}s",
        )
    return counts


def _all_paths(root, splits):
    return {"root": root, "splits": {s: shapes_paths(root, s) for s in splits}}


def _log(enabled, message):
    if enabled:
        print(message, file=sys.stderr, flush=True)
