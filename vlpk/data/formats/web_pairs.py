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

`read_layout` (the header) and `parse_row` (one data line) are the two
halves of `iter_caption_pairs`, for a reader that does not start at the
top of the file: the Beam converter (`vlpk.data.shards.beam_csv`) parses
byte ranges of it with them, so both read every row alike.
"""

import csv
import dataclasses
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

    >>> import os, tempfile
    >>> from vlpk.data.formats.web_pairs import iter_caption_pairs
    >>> path = os.path.join(tempfile.mkdtemp(), "cc3m_train.tsv")
    >>> with open(path, "w") as f:
    ...     print("image\\tcaption", file=f)
    ...     print("000000.jpg\\ta dog on a beach", file=f)
    >>> pairs = iter_caption_pairs(path, "cc3m/images")
    >>> example = next(pairs)
    >>> example.image_path, example.image_id, example.captions
    ('cc3m/images/000000.jpg', 0, ('a dog on a beach',))
    """
    layout = read_layout(path, images_dir, delimiter, image_column, caption_column)
    with open(layout.path, "rb") as f:
        f.seek(layout.data_start)
        for row, raw in enumerate(f):
            example = read_row(layout, row, raw, report)
            if example is not None:
                yield example


@dataclasses.dataclass(frozen=True)
class PairsLayout:
    """Where the fields of a CSV/TSV of pairs are: what `parse_row` needs.

    Build it with `read_layout`, which checks the file and its header.

    Args:
        path: the file.
        images_dir: the folder the image paths are joined to.
        delimiter: the field separator.
        width: the number of header columns.
        image_at: the image path column's index.
        caption_at: the caption column's index.
        data_start: the byte offset of the first data line.
    """

    path: str
    images_dir: str
    delimiter: str
    width: int
    image_at: int
    caption_at: int
    data_start: int


def read_layout(
    path,
    images_dir=None,
    delimiter=None,
    image_column="image",
    caption_column="caption",
):
    """The `PairsLayout` of a file, from its header; the arguments and the
    defaults are `iter_caption_pairs`'.

    Raises:
        MissingFileError: the file does not exist.
        InputError: the file is empty, or its header is not UTF-8 or lacks
            a column (the message lists the columns found).

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"caption\\timage\\na dog\\tdog.jpg\\n")
    >>> layout = read_layout(path, "images")
    >>> layout.delimiter, layout.image_at, layout.caption_at, layout.data_start
    ('\\t', 1, 0, 14)
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
        data_start = f.tell()
    image_at, caption_at = _column_indices(columns, image_column, caption_column, path)
    return PairsLayout(
        path,
        os.fspath(images_dir),
        delimiter,
        len(columns),
        image_at,
        caption_at,
        data_start,
    )


def read_row(layout, row, raw, report):
    """`parse_row`'s `Example`, or `None` for a line to skip.

    A bad line's reason goes to `report(source, reason)`, with `source`
    `"<file>: line <n>"` (`report=None` raises `InputError`); see
    `iter_caption_pairs`.
    """
    parsed = parse_row(layout, row, raw)
    if isinstance(parsed, str):
        report_or_raise(report, f"{layout.path}: line {row + 2}", parsed)
        return None
    return parsed


def parse_row(layout, row, raw):
    """The `Example` of one data line, or the reason it is skipped.

    Args:
        layout: the file's `PairsLayout`.
        row: the 0-based index of the data line (the file's line `row + 2`):
            the `image_id`, so that ids do not shift when bad rows are skipped.
        raw: the line's bytes, with or without its line break.

    Returns:
        `Example(image_path, row, (caption,))`; for a bad line, the reason
        (a `str`: `"caption is not valid UTF-8"`, `"expected 2 fields, found
        1"`, `"empty image path"` or `"empty caption"`); `None` for a blank
        line, which is ignored.

    Example:
    >>> layout = PairsLayout("pairs.csv", "images", ",", 2, 0, 1, 14)
    >>> example = parse_row(layout, 3, b'dog.jpg," a dog, running"\\r\\n')
    >>> example.image_path, example.image_id, example.captions
    ('images/dog.jpg', 3, ('a dog, running',))
    >>> parse_row(layout, 4, b"dog.jpg\\n")
    'expected 2 fields, found 1'
    >>> parse_row(layout, 5, b"\\n") is None
    True
    """
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return "caption is not valid UTF-8"
    if not line.strip():
        return None
    fields = next(csv.reader([line], delimiter=layout.delimiter), [])
    if len(fields) != layout.width:
        return f"expected {layout.width} fields, found {len(fields)}"
    image = fields[layout.image_at].strip()
    caption = fields[layout.caption_at].strip()
    if not image:
        return "empty image path"
    if not caption:
        return "empty caption"
    return Example(os.path.join(layout.images_dir, image), row, (caption,))


def _column_indices(columns, image_column, caption_column, path):
    """`(image_at, caption_at)`: where the two columns are in the header."""
    missing = [c for c in (image_column, caption_column) if c not in columns]
    if missing:
        raise InputError(
            f"{path}: the header has no column {missing[0]!r}; the columns "
            f"found are {columns}. Pass --image-column/--caption-column."
        )
    return columns.index(image_column), columns.index(caption_column)


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
