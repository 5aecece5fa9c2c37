"""Reading a Shapes dataset through the same readers as real COCO and VQA."""

import dataclasses
import os

from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.records.example import MissingFileError, get_field, read_json
from vlpk.data.shapes.layout import MARKER, read_marker, shapes_paths
from vlpk.errors import InputError


def read_labels(labels_path):
    """Reads a labels file written by `write_shapes`.

    The format is `{"classes": [...], "labels": [{"image_id", "label"}]}`.

    Args:
        labels_path: path of the labels JSON file.

    Returns:
        A tuple `(class_names, labels)`: the list of class names, and a dict
        mapping image id -> integer label.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when the file does not exist.
        InputError: (a `ValueError`) when the file is malformed or a label is
            out of range.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.synthetic import read_labels, write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> paths = write_shapes(root, image_size=32, splits={"train": 4},
    ...                      progress=False)
    >>> classes, labels = read_labels(paths["splits"]["train"]["labels"])
    >>> classes, labels
    (['circle', 'square', 'triangle', 'diamond'], {1: 3, 2: 3, 3: 0, 4: 1})
    """
    path = os.fspath(labels_path)
    data = read_json(path, "labels")
    classes = get_field(data, "classes", path, "the top level", list)
    if not all(isinstance(name, str) for name in classes):
        raise InputError(f"{path}: 'classes' should be a list of strings.")
    labels = {}
    for index, record in enumerate(
        get_field(data, "labels", path, "the top level", list)
    ):
        where = f"labels[{index}]"
        image_id = get_field(record, "image_id", path, where, int)
        label = get_field(record, "label", path, where, int)
        if not 0 <= label < len(classes):
            raise InputError(
                f"{path}: {where} has label {label}, outside the "
                f"{len(classes)} classes."
            )
        labels[image_id] = label
    return classes, labels


def read_shapes(root, split):
    """Reads one split of a Shapes dataset as captioned, labelled examples.

    The captions go through `read_coco_captions` and the labels through
    `read_labels`, exactly as for real data.

    Args:
        root: the dataset's root folder, as passed to `write_shapes`.
        split: the split name, e.g. `"train"`.

    Returns:
        A list of `Example` records with `image_path`, `image_id`, `captions`
        and `label` set, ordered by image id.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `root` holds no Shapes
            dataset.
        InputError: (a `ValueError`) when the dataset has no such split, or a
            file is malformed.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.synthetic import read_shapes, write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"val": 2},
    ...                  progress=False)
    >>> examples = read_shapes(root, "val")
    >>> len(examples), os.path.basename(examples[0].image_path)
    (2, '000000000001.jpg')
    """
    paths = _checked_paths(root, split)
    examples = read_coco_captions(paths["captions"], paths["images_dir"])
    _, labels = read_labels(paths["labels"])
    return [_with_label(e, labels, paths["labels"]) for e in examples]


def read_shapes_vqa(root, split):
    """Reads one split of a Shapes dataset as VQA examples (one per question).

    Args:
        root: the dataset's root folder, as passed to `write_shapes`.
        split: the split name, e.g. `"train"`.

    Returns:
        A list of `Example` records as returned by `vlpk.data.formats.vqa.read_vqa`.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.synthetic import read_shapes_vqa, write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"val": 2},
    ...                  progress=False)
    >>> examples = read_shapes_vqa(root, "val")
    >>> examples[0].question, examples[0].answer
    ('how many shapes are there?', '...')
    """
    paths = _checked_paths(root, split)
    return read_vqa(paths["questions"], paths["annotations"], paths["images_dir"])


def _checked_paths(root, split):
    """The split's paths, after checking that `root` holds a Shapes dataset."""
    checked_marker(root, split)
    return shapes_paths(root, split)


def checked_marker(root, split):
    """The marker of the Shapes dataset in `root`, which must hold `split`.

    Raises:
        MissingFileError: no readable marker (no dataset) in `root`.
        InputError: the dataset has no such split.
    """
    marker = read_marker(os.fspath(root))
    if marker is None:
        raise MissingFileError(
            f"No Shapes dataset in {root} (no readable {MARKER}). Create it with "
            "vlpk.data.synthetic.write_shapes(root)."
        )
    splits = marker.get("splits") or {}
    if split not in splits:
        raise InputError(
            f"The Shapes dataset in {root} has no split {split!r}; it has "
            f"{sorted(splits)}."
        )
    return marker


def _with_label(example, labels, path):
    if example.image_id not in labels:
        raise InputError(f"{path}: no label for image_id {example.image_id}.")
    return dataclasses.replace(example, label=labels[example.image_id])
