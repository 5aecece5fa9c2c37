"""Streams CSV/TSV files of (local image path, caption) pairs, CC3M-style.

```
image,caption
images/000001.jpg,a dog running on the beach
```

The file is read line by line and never held in memory, so a file of
millions of pairs costs the same memory as one of ten. Each line is decoded
on its own: a line that is not UTF-8 or has the wrong number of fields is
reported and skipped, and the rest still arrive. Quoted fields may hold the
delimiter but not a line break.
"""

import csv
import os

from vlpk.data.records import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError


def iter_caption_pairs(
    path,
    images_dir=None,
    delimiter=None,
    image_column="image",
    caption_column="caption",
    report=None,
):
    """Yields one `Example` per data row of a CSV/TSV file.

    Args:
        path: the CSV or TSV file; its first line is the header.
        images_dir: the folder relative image paths are joined to (`None`:
            the file's own folder).
        delimiter: the field separator; default tab for `.tsv`/`.tab` files,
            else comma.
        image_column: the header name of the image path column.
        caption_column: the header name of the caption column.
        report: `report(source, reason)` for a bad line, which is then
            skipped; `None` (default) raises `InputError` instead.

    Yields:
        `Example(image_path, image_id, (caption,))`, where `image_id` is the
        0-based index of the data row in the file.

    Raises:
        MissingFileError: the file does not exist.
        InputError: the header lacks one of the columns.

    Example:
    >>> for example in iter_caption_pairs("cc3m_train.tsv", "cc3m/images"):
    ...     print(example.image_path, example.captions)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"pairs file not found: {path}")
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    if images_dir is None:
        images_dir = os.path.dirname(path)
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n")
        columns = [c.strip() for c in next(csv.reader([header], delimiter=delimiter))]
        missing = [c for c in (image_column, caption_column) if c not in columns]
        if missing:
            raise InputError(
                f"{path}: the header has no column {missing[0]!r}; it has {columns}. "
                "Pass --image-column/--caption-column."
            )
        image_at, caption_at = (
            columns.index(image_column),
            columns.index(caption_column),
        )
        for row, raw in enumerate(f):
            source = f"{path}: line {row + 2}"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                report_or_raise(report, source, "not valid UTF-8")
                continue
            fields = next(csv.reader([line], delimiter=delimiter), [])
            if len(fields) != len(columns):
                report_or_raise(
                    report,
                    source,
                    f"expected {len(columns)} fields, found {len(fields)}",
                )
                continue
            image = fields[image_at].strip()
            yield Example(os.path.join(images_dir, image), row, (fields[caption_at],))
