"""Reads the Flickr8k and Flickr30k caption files as distributed.

- Flickr8k `Flickr8k.token.txt`: `1000268201_693b08cb0e.jpg#0<TAB>A child ...`
- Flickr30k `results.csv` (the Kaggle release):
  `image_name| comment_number| comment` with `|` separators (spaces after
  them optional), or a plain CSV whose header has `image` and `caption`.

Lines are decoded one at a time, so one line that is not UTF-8 (or is
malformed) is reported and skipped without losing the rest of the file.
"""

import csv
import os

from vlpk.data.records.example import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError


def read_flickr8k(token_path, images_dir, report=None):
    """Reads `Flickr8k.token.txt` into one `Example` per image.

    Args:
        token_path: the token file, lines `<image>#<n><TAB><caption>`.
        images_dir: the folder of the JPEGs (`Flicker8k_Dataset/`).
        report: `report(source, reason)` for a bad line, which is then
            skipped: not UTF-8 (`"caption is not valid UTF-8"`), no tab or no
            `#` before it, an empty caption. `source` is
            `"<file>: line <n>"` (1-based). `None` (default) raises
            `InputError` instead. Blank lines are ignored.

    Returns:
        `Example`s in order of first appearance; `image_id` is that order
        (0-based), `captions` keep the file's order.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when the file does not exist.
        InputError: (a `ValueError`) without `report`, for the first bad line.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.formats.flickr import read_flickr8k
    >>> path = os.path.join(tempfile.mkdtemp(), "Flickr8k.token.txt")
    >>> with open(path, "w") as f:
    ...     print("1.jpg#0\\tA child climbs the stairs .", file=f)
    ...     print("1.jpg#1\\tA girl in pink .", file=f)
    >>> examples = read_flickr8k(path, "Flicker8k_Dataset")
    >>> examples[0].image_path, examples[0].captions
    ('Flicker8k_Dataset/1.jpg', ('A child climbs the stairs .', 'A girl in pink .'))
    """
    token_path = os.fspath(token_path)
    captions = {}
    for number, line in _lines(token_path, report):
        source = f"{token_path}: line {number}"
        key, tab, caption = line.partition("\t")
        name, hash_, _ = key.rpartition("#")
        if not tab or not hash_ or not name.strip():
            report_or_raise(report, source, "expected '<image>#<n><TAB><caption>'")
            continue
        if not caption.strip():
            report_or_raise(report, source, "empty caption")
            continue
        captions.setdefault(name.strip(), []).append(caption.strip())
    return _examples(captions, images_dir)


def read_flickr30k(results_csv, images_dir, report=None):
    """Reads Flickr30k's `results.csv` into one `Example` per image.

    The header picks the layout: `image_name|comment_number|comment` (the
    Kaggle release, with or without a space after each `|`; fields are split
    on `|` and stripped, quotes are kept as text), or a comma-separated CSV
    with `image` and `caption` columns (standard CSV quoting).

    Args:
        results_csv: `results.csv`, or a CSV with `image,caption` columns.
        images_dir: the folder of the JPEGs (`flickr30k_images/`).
        report: `report(source, reason)` for a bad line, which is then
            skipped: not UTF-8 (`"caption is not valid UTF-8"`), a wrong
            number of fields (`"expected 3 fields, found 2"`), an empty
            image name or caption. `source` is `"<file>: line <n>"`.
            `None` (default) raises `InputError` instead.

    Returns:
        `Example`s in order of first appearance, as `read_flickr8k`.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when the file does not exist.
        InputError: (a `ValueError`) when the file is empty, its header is not
            UTF-8 or lacks the columns, or, without `report`, for the first
            bad line.

    Example:

    >>> import os, tempfile
    >>> from vlpk.data.formats.flickr import read_flickr30k
    >>> path = os.path.join(tempfile.mkdtemp(), "results.csv")
    >>> with open(path, "w") as f:
    ...     print("image_name| comment_number| comment", file=f)
    ...     print("1000092795.jpg| 0| Two young guys .", file=f)
    >>> examples = read_flickr30k(path, "flickr30k_images")
    >>> examples[0].image_path, examples[0].captions
    ('flickr30k_images/1000092795.jpg', ('Two young guys .',))
    """
    results_csv = os.fspath(results_csv)
    lines = _lines(results_csv, report, header=True)
    header = next(lines, None)
    if header is None:
        raise InputError(f"{results_csv}: the file is empty; expected a header line.")
    piped = "|" in header[1]
    columns = _split(header[1], piped)
    if {"image_name", "comment"} <= set(columns):
        image_column, caption_column = "image_name", "comment"
    elif {"image", "caption"} <= set(columns):
        image_column, caption_column = "image", "caption"
    else:
        raise InputError(
            f"{results_csv}: expected the columns image_name|comment_number|comment "
            f"(or image,caption), found {columns}."
        )
    image_at, caption_at = columns.index(image_column), columns.index(caption_column)
    captions = {}
    for number, line in lines:
        source = f"{results_csv}: line {number}"
        fields = _split(line, piped)
        if len(fields) != len(columns):
            report_or_raise(
                report, source, f"expected {len(columns)} fields, found {len(fields)}"
            )
            continue
        if not fields[image_at]:
            report_or_raise(report, source, "empty image name")
            continue
        if not fields[caption_at]:
            report_or_raise(report, source, "empty caption")
            continue
        captions.setdefault(fields[image_at], []).append(fields[caption_at])
    return _examples(captions, images_dir)


def _split(line, piped):
    """The stripped fields of one line: split on `|`, or parsed as CSV."""
    fields = line.split("|") if piped else next(csv.reader([line]), [])
    return [field.strip() for field in fields]


def _lines(path, report, header=False):
    """Yields `(line number, text)` for non-blank lines, decoded one by one.

    The file is read as bytes so that one line that is not UTF-8 is reported
    (or raised) alone. With `header`, the first line must decode: a file
    whose header is unreadable is not a file of this format.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f"caption file not found: {path}")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                if header and number == 1:
                    raise InputError(
                        f"{path}: line 1 (the header) is not valid UTF-8."
                    ) from None
                report_or_raise(
                    report, f"{path}: line {number}", "caption is not valid UTF-8"
                )
                continue
            text = text.rstrip("\r\n")
            if text.strip():
                yield number, text


def _examples(captions, images_dir):
    """`Example`s from an ordered mapping of file name -> captions."""
    return [
        Example(os.path.join(images_dir, name), image_id, tuple(texts))
        for image_id, (name, texts) in enumerate(captions.items())
    ]
