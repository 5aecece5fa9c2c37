"""Where a Shapes dataset's files live on disk, and its marker file.

The marker (`shapes.json`) records the parameters a dataset was written with;
the writer uses it as a cache key and the reader to check a dataset is there.
"""

import json
import os

# Bump when the generator changes, so cached datasets are regenerated.
FORMAT_VERSION = 1
MARKER = "shapes.json"


def shapes_paths(root, split):
    """Paths of one split of a Shapes dataset written by `write_shapes`.

    Args:
        root: the dataset's root folder.
        split: the split name, e.g. `"train"`.

    Returns:
        A dict with `images_dir`, `captions` (COCO captions JSON), `questions`
        and `annotations` (VQA v2 JSON) and `labels`.

    Example:

    >>> from vlpk.data.synthetic import shapes_paths
    >>> shapes_paths("/data/shapes", "val")["captions"]
    '/data/shapes/annotations/captions_val.json'
    """
    root = os.fspath(root)
    annotations = os.path.join(root, "annotations")
    return {
        "images_dir": os.path.join(root, "images", split),
        "captions": os.path.join(annotations, f"captions_{split}.json"),
        "questions": os.path.join(annotations, f"vqa_{split}_questions.json"),
        "annotations": os.path.join(annotations, f"vqa_{split}_annotations.json"),
        "labels": os.path.join(annotations, f"labels_{split}.json"),
    }


def read_marker(root):
    """The parameters stored in `root`'s marker, or None when unreadable."""
    try:
        with open(os.path.join(root, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None
