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

from vlpk.data.records.example import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError


def iter_caption_pairs(
    path,
    images_dir=None,
    delimiter=None,
    image_column="image",
    caption_column="caption",
    report=None,
):
    """Yields one `Example` per data row of a CSV/TSV file, streaming.

    The file is opened on the first `next()`, read one line at a time and
    never held whole in memory. Fields are parsed with the `csv` module
    (standard quoting), but each line is parsed alone: a quoted field that
    spans a line break is not supported (its lines are reported as rows with
    the wrong number of fields).

    Args:
        path: the CSV or TSV file; its first line is the header.
        images_dir: the folder relative image paths are joined to (`None`:
            the file's own folder). Absolute paths are kept.
        delimiter: the field separator; default tab for `.tsv`/`.tab` files,
            else comma.
        image_column: the header name of the image path column.
        caption_column: the header name of the caption column.
        report: `report(source, reason)` for a bad row, which is then
            skipped: not UTF-8 (`"caption is not valid UTF-8"`), a wrong
            number of fields (`"expected 2 fields, found 1"`), an empty image
            path or caption. `source` is `"<file>: line <n>"` (1-based, the
            header is line 1). `None` (default) raises `InputError` instead.
            Blank lines are ignored.

    Yields:
        `Example(image_path, image_id, (caption,))`, where `image_id` is the
        0-based index of the data row (line number minus 2), so ids do not
        shift when bad rows are skipped.

    Raises:
        MissingFileError: (a `FileNotFoundError`) the file does not exist.
        InputError: (a `ValueError`) the file is empty, its header is not
            UTF-8 or lacks a column (the message lists the columns found),
            or, without `report`, at the first bad row.

    Example:

    >>> from vlpk.data.formats.web_pairs import iter_caption_pairs
    >>> pairs = iter_caption_pairs("cc3m_train.tsv", "cc3m/images")  # doctest: +SKIP
    >>> next(pairs)  # doctest: +SKIP
    Example(image_path='cc3m/images/000000.jpg', image_id=0, captions=(...))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"pairs file not found: {path}")
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    if images_dir is None:
        images_dir = os.path.dirname(path)
    with open(path, "rb") as f:
        columns = _read_header(f.readline(), path, delimiter)
        image_at, caption_at = _column_indices(
            columns, image_column, caption_column, path
        )
        for row, raw in enumerate(f):
            source = f"{path}: line {row + 2}"
            fields = _row_fields(raw, source, delimiter, len(columns), report)
            if fields is None:
                continue
            image, caption = fields[image_at].strip(), fields[caption_at].strip()
            if not image:
                report_or_raise(report, source, "empty image path")
                continue
            if not caption:
                report_or_raise(report, source, "empty caption")
                continue
            yield Example(os.path.join(images_dir, image), row, (caption,))


def _column_indices(columns, image_column, caption_column, path):
    """`(image_at, caption_at)`: where the two columns are in the header."""
    missing = [c for c in (image_column, caption_column) if c not in columns]
    if missing:
        raise InputError(
            f"{path}: the header has no column {missing[0]!r}; the columns "
            f"found are {columns}. Pass --image-column/--caption-column."
        )
    return columns.index(image_column), columns.index(caption_column)


def _row_fields(raw, source, delimiter, width, report):
    """The fields of one data line (raw bytes), or `None` to skip it.

    A blank line is skipped silently; a line that is not UTF-8 or does not
    have `width` fields is reported (see `iter_caption_pairs`) and skipped.
    """
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        report_or_raise(report, source, "caption is not valid UTF-8")
        return None
    if not line.strip():
        return None
    fields = next(csv.reader([line], delimiter=delimiter), [])
    if len(fields) != width:
        report_or_raise(report, source, f"expected {width} fields, found {len(fields)}")
        return None
    return fields


def _read_header(raw, path, delimiter):
    """The stripped column names of the header line (raw bytes)."""
    try:
        header = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"{path}: line 1 (the header) is not valid UTF-8.") from None
    if not header.strip():
        raise InputError(
            f"{path}: the first line is empty; expected a header such as "
            f"'image{delimiter}caption'."
        )
    return [c.strip() for c in next(csv.reader([header], delimiter=delimiter))]
