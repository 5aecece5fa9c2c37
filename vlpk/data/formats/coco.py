"""Reads COCO-format caption annotations (`captions_<split>.json`).

The format is the one of the official COCO captions release:

```
{"info": {...},
 "images": [{"id": 1, "file_name": "000000000001.jpg", "width": 64, ...}],
 "annotations": [{"id": 7, "image_id": 1, "caption": "a red circle"}]}
```

The synthetic Shapes dataset is written in the same format, so real and
synthetic data go through this one reader.
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


def read_coco_captions(annotations_path, images_dir, report=None):
    """Reads a COCO captions file into one `Example` per captioned image.

    Examples are ordered by image id; each holds the image's captions in
    annotation order. Images without any caption are skipped.

    Args:
        annotations_path: path of a COCO captions JSON file.
        images_dir: folder that the images' `file_name`s are relative to.
        report: `report(source, reason)` for a bad record, which is then
            skipped: an image or annotation with a missing or ill-typed field,
            a repeated image id, a caption naming an unknown image id, an
            empty caption. `source` is `"<file>: annotations[<i>]"` (or
            `images[<i>]`). `None` (default) raises `InputError` instead.

    Returns:
        A list of `Example` records with `image_path`, `image_id` and
        `captions` set.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `annotations_path` does
            not exist.
        InputError: (a `ValueError`) when the file is not valid JSON, a required
            key is missing, or, without `report`, for the first bad record.

    Example:

    >>> import json, os, tempfile
    >>> from vlpk.data.formats.coco import read_coco_captions
    >>> path = os.path.join(tempfile.mkdtemp(), "captions_val2014.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": [{"id": 7, "file_name": "7.jpg"}],
    ...                "annotations": [{"image_id": 7, "caption": "a moped"},
    ...                                {"image_id": 7, "caption": "a man"}]}, f)
    >>> examples = read_coco_captions(path, "coco/val2014")
    >>> examples[0].image_path, examples[0].captions
    ('coco/val2014/7.jpg', ('a moped', 'a man'))
    """
    path = os.fspath(annotations_path)
    data = read_json(path, "COCO captions")
    images = get_field(data, "images", path, "the top level", list)
    annotations = get_field(data, "annotations", path, "the top level", list)

    file_names, dropped = _read_file_names(images, path, report)
    captions = {image_id: [] for image_id in file_names}
    for index, annotation in enumerate(annotations):
        where = f"annotations[{index}]"
        try:
            image_id = get_field(annotation, "image_id", path, where, int)
            caption = get_field(annotation, "caption", path, where, str)
        except RecordError as error:
            report_error(report, error)
            continue
        if image_id in dropped:
            continue  # its image record was reported already
        if image_id not in captions:
            report_or_raise(
                report,
                f"{path}: {where}",
                f"has image_id {image_id}, which is not listed under 'images'",
            )
            continue
        if not caption.strip():
            report_or_raise(report, f"{path}: {where}", "empty caption")
            continue
        captions[image_id].append(caption)

    return [
        Example(
            image_path=os.path.join(images_dir, file_names[image_id]),
            image_id=image_id,
            captions=tuple(captions[image_id]),
        )
        for image_id in sorted(captions)
        if captions[image_id]
    ]


def _read_file_names(images, path, report):
    """`(file_names, dropped)`: image id -> file name, and the ids of bad records.

    A bad image record is reported; when its id is readable, the id goes to
    `dropped` so that its captions are skipped without a second report.
    """
    file_names, dropped = {}, set()
    for index, image in enumerate(images):
        where = f"images[{index}]"
        try:
            image_id = get_field(image, "id", path, where, int)
        except RecordError as error:
            report_error(report, error)
            continue
        if image_id in file_names:
            # The first record of the id keeps its captions.
            report_or_raise(report, f"{path}: {where}", f"repeats image id {image_id}")
            continue
        try:
            file_names[image_id] = get_field(image, "file_name", path, where, str)
        except RecordError as error:
            report_error(report, error)
            dropped.add(image_id)
    return file_names, dropped - set(file_names)
