"""Readers of labelled image sets: an image-folder tree, or a CSV of `image,label`.

The folder layout is Keras's `image_dataset_from_directory`: one
subfolder per class, its name the class name, and the classes in sorted
order, so label `i` means the same class as in Keras:

```
flowers/
  daisy/   1.jpg 2.jpg ...
  tulip/   3.jpg ...
```

A CSV names each image's class in a column (`image,label` by default);
the classes are its distinct labels, sorted. Both readers return the
`Example`s (with `label`, no captions) and the class names, which
`vlpk data convert` writes into the manifest (`class_names`) so that
`vlpk finetune --task classify` and `vlpk evaluate zeroshot` take them from
the data.
"""

import csv
import os

from vlpk.data.records.example import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError

# `keras.utils.image_dataset_from_directory`'s extensions.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def read_image_folder(root, report=None):
    """`(examples, class_names)` of a one-folder-per-class tree.

    Args:
        root: the folder holding one subfolder per class. Images may sit in
            nested folders inside a class folder (as Keras allows); files
            of other extensions are left out, and files at the top level
            are reported.
        report: `report(source, reason)` for a skipped file (`None`: raise).

    Returns:
        The `Example`s, class by class in sorted order and files sorted
        within a class, `image_id` their index; and the sorted class names.

    Example:
    >>> import os, tempfile
    >>> root = os.path.join(tempfile.mkdtemp(), "flowers")
    >>> for name in ("tulip/3.jpg", "daisy/1.jpg", "daisy/2.jpg"):
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
    ...     open(os.path.join(root, name), "wb").close()
    >>> examples, names = read_image_folder(root)
    >>> names, [e.label for e in examples]
    (['daisy', 'tulip'], [0, 0, 1])
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise MissingFileError(f"{root}: no such folder (the image-folder root).")
    names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not names:
        raise InputError(
            f"{root} has no class folders: put each class's images in a "
            "folder named after the class (root/<class>/<image>)."
        )
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_file():
            report_or_raise(report, entry.path, "not inside a class folder")
    examples = []
    for label, name in enumerate(names):
        for path in _images_under(os.path.join(root, name)):
            examples.append(Example(path, len(examples), (), label=label))
    return examples, names


def _images_under(folder):
    found = []
    for parent, folders, files in os.walk(folder):
        folders.sort()
        found += [
            os.path.join(parent, f)
            for f in sorted(files)
            if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return found


def read_labelled_csv(
    path, images_dir=None, image_column="image", label_column="label", report=None
):
    """`(examples, class_names)` of a CSV/TSV file of image paths and labels.

    Args:
        path: the file; its first line is the header (`.tsv`: tab-separated).
        images_dir: the folder relative paths are joined to (`None`: the
            file's folder). Absolute paths are kept.
        image_column: the header name of the image path column.
        label_column: the header name of the class column (any text).
        report: `report(source, reason)` for a bad row, then skipped (`None`:
            raise). `source` is `"<file>: line <n>"`.

    Returns:
        The `Example`s in file order (`image_id`: the data row's index) and
        the sorted distinct labels, which are the class names.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"{path}: no such file (the labels CSV).")
    images_dir = os.path.dirname(path) if images_dir is None else os.fspath(images_dir)
    delimiter = "\t" if path.endswith((".tsv", ".tab")) else ","
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = {image_column, label_column} - set(reader.fieldnames or ())
        if missing:
            raise InputError(
                f"{path}: no {sorted(missing)} column in the header "
                f"{reader.fieldnames}; name the columns with --image-column "
                "and --label-column."
            )
        for index, row in enumerate(reader):
            image, label = (row.get(image_column) or "").strip(), row.get(label_column)
            label = (label or "").strip()
            if not image or not label:
                where = f"{path}: line {index + 2}"
                report_or_raise(report, where, "empty image path or label")
                continue
            rows.append((index, os.path.join(images_dir, image), label))
    names = sorted({label for _, _, label in rows})
    label_of = {name: i for i, name in enumerate(names)}
    examples = [Example(p, i, (), label=label_of[label]) for i, p, label in rows]
    return examples, names
