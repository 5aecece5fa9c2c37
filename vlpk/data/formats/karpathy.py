"""Reads Karpathy's split files (`dataset_coco.json`, `dataset_flickr8k.json`,
`dataset_flickr30k.json`), the splits most captioning and retrieval papers
report on.

```
{"dataset": "coco",
 "images": [{"filepath": "val2014", "filename": "COCO_val2014_...42.jpg",
             "imgid": 0, "cocoid": 42, "split": "test",
             "sentences": [{"raw": "A man riding a wave.", "tokens": [...]}]}]}
```

`filepath` exists only in the COCO file; `cocoid` only there too.

The file mixes every split, so a reader must keep them apart: `read_karpathy`
reads the splits asked for, `read_karpathy_splits` reads each split into its
own list (in one pass over the file).
"""

import os

from vlpk.data.records.example import (
    Example,
    RecordError,
    get_field,
    read_json,
    report_error,
    report_or_raise,
)
from vlpk.errors import InputError

SPLITS = ("train", "val", "test", "restval")


def read_karpathy(path, images_dir, split=None, report=None):
    """Reads one Karpathy split file into one `Example` per image.

    Args:
        path: `dataset_coco.json`, `dataset_flickr8k.json` or
            `dataset_flickr30k.json`.
        images_dir: the image folder (for COCO, the one holding `train2014/`
            and `val2014/`).
        split: `"train"`, `"val"`, `"test"`, `"restval"`, a tuple of them
            (the usual training set is `("train", "restval")`), or `None` for
            every image.
        report: `report(source, reason)` for a bad record, which is then
            skipped: an image with a missing or ill-typed field or without
            sentences (source `"<file>: images[<i>]"`), a sentence without
            `raw` or with an empty one (source
            `"<file>: images[<i>]['sentences'][<j>]"`; the image keeps its
            other captions). `None` (default) raises `InputError` instead.
            Records of other splits are not checked beyond their `split`.

    Returns:
        `Example`s in file order with `image_path`
        (`images_dir/filepath/filename`, `filepath` when present), `image_id`
        (`cocoid` when present, else `imgid`) and the `raw` captions.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `path` does not exist.
        InputError: (a `ValueError`) for an unknown split name, a file that is
            not valid JSON or has no `images` list, or, without `report`, for
            the first bad record.

    Example:

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "dataset_coco.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": [
    ...         {"filepath": "val2014", "filename": "a.jpg", "cocoid": 1,
    ...          "split": "train", "sentences": [{"raw": "a dog"}]},
    ...         {"filepath": "val2014", "filename": "b.jpg", "cocoid": 2,
    ...          "split": "restval", "sentences": [{"raw": "a cat"}]},
    ...         {"filepath": "val2014", "filename": "c.jpg", "cocoid": 3,
    ...          "split": "test", "sentences": [{"raw": "a cow"}]}]}, f)
    >>> from vlpk.data.formats.karpathy import read_karpathy
    >>> train = read_karpathy(path, "coco", split=("train", "restval"))
    >>> [(e.image_path, e.image_id, e.captions) for e in train]
    [('coco/val2014/a.jpg', 1, ('a dog',)), ('coco/val2014/b.jpg', 2, ('a cat',))]
    """
    path = os.fspath(path)
    splits = (split,) if isinstance(split, str) else split
    for name in splits or ():
        if name not in SPLITS:
            raise InputError(f"Unknown Karpathy split {name!r}; choose from {SPLITS}.")
    examples = []
    for where, image in _images(path):
        try:
            example = _read_image(image, path, where, images_dir, splits, report)
        except RecordError as error:
            report_error(report, error)
            continue
        if example is not None:
            examples.append(example)
    return examples


def read_karpathy_splits(path, images_dir, report=None, split_reports=None):
    """Reads a Karpathy split file into one list of `Example`s per split.

    Training on `read_karpathy(path, images_dir)` (every image) would train
    on the test images; this keeps each split apart, reading the file once.

    Args:
        path: `dataset_coco.json`, `dataset_flickr8k.json` or
            `dataset_flickr30k.json`.
        images_dir: the image folder, as for `read_karpathy`.
        report: `report(source, reason)` for a bad record, which is then
            skipped, as for `read_karpathy`. An image whose `split` is missing
            or not one of `SPLITS` is reported here too (its split is
            unknown, so it is put in none). `None` (default) raises
            `InputError` at the first bad record instead.
        split_reports: optional dict of split name -> `report`, for the bad
            records of that split (default: `report`), so that each split's
            skips can be listed with that split.

    Returns:
        A dict split name -> `Example`s in file order (as `read_karpathy`
        gives them), for each split that at least one image names, in the
        order of `SPLITS`. A split whose every image was skipped maps to `[]`.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `path` does not exist.
        InputError: (a `ValueError`) for a file that is not valid JSON or has
            no `images` list, or, without a report, for the first bad record.

    Example:

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "dataset_coco.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": [
    ...         {"filepath": "val2014", "filename": "a.jpg", "cocoid": 1,
    ...          "split": "train", "sentences": [{"raw": "a dog"}]},
    ...         {"filepath": "val2014", "filename": "b.jpg", "cocoid": 2,
    ...          "split": "restval", "sentences": [{"raw": "a cat"}]},
    ...         {"filepath": "val2014", "filename": "c.jpg", "cocoid": 3,
    ...          "split": "test", "sentences": [{"raw": "a cow"}]}]}, f)
    >>> from vlpk.data.formats.karpathy import read_karpathy_splits
    >>> splits = read_karpathy_splits(path, "coco")
    >>> {name: len(examples) for name, examples in splits.items()}
    {'train': 1, 'test': 1, 'restval': 1}
    """
    path = os.fspath(path)
    split_reports = split_reports or {}
    by_split = {}
    for where, image in _images(path):
        try:
            name = get_field(image, "split", path, where, str)
        except RecordError as error:
            report_error(report, error)
            continue
        if name not in SPLITS:
            reason = f"unknown split {name!r}; expected one of {SPLITS}"
            report_or_raise(report, f"{path}: {where}", reason)
            continue
        examples = by_split.setdefault(name, [])
        split_report = split_reports.get(name, report)
        try:
            example = _read_image(image, path, where, images_dir, None, split_report)
        except RecordError as error:
            report_error(split_report, error)
            continue
        if example is not None:
            examples.append(example)
    return {name: by_split[name] for name in SPLITS if name in by_split}


def _images(path):
    """Yields `(where, image record)` for each entry of the file's `images`."""
    data = read_json(path, "Karpathy split")
    images = get_field(data, "images", path, "the top level", list)
    for index, image in enumerate(images):
        yield f"images[{index}]", image


def _read_image(image, path, where, images_dir, splits, report):
    """One image's `Example`, or `None` when it is in another split.

    Raises `RecordError` for a bad image record; a bad sentence is reported
    (or raised) on its own and the image keeps its other captions.
    """
    if splits is not None and get_field(image, "split", path, where, str) not in splits:
        return None
    filename = get_field(image, "filename", path, where, str)
    folder = (
        get_field(image, "filepath", path, where, str) if "filepath" in image else ""
    )
    key = "cocoid" if "cocoid" in image else "imgid"
    image_id = get_field(image, key, path, where, int)
    sentences = get_field(image, "sentences", path, where, list)
    captions = []
    for i, sentence in enumerate(sentences):
        try:
            raw = get_field(sentence, "raw", path, f"{where}['sentences'][{i}]", str)
        except RecordError as error:
            report_error(report, error)
            continue
        if not raw.strip():
            report_or_raise(
                report, f"{path}: {where}['sentences'][{i}]", "empty caption"
            )
            continue
        captions.append(raw)
    if not captions:
        if not sentences:  # else every sentence was reported already
            report_or_raise(report, f"{path}: {where}", "no sentences")
        return None
    return Example(
        image_path=os.path.join(images_dir, folder, filename),
        image_id=image_id,
        captions=tuple(captions),
    )
