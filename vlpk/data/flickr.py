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

from vlpk.data.records import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError


def read_flickr8k(token_path, images_dir, report=None):
    """Reads `Flickr8k.token.txt` into one `Example` per image.

    Args:
        token_path: the token file.
        images_dir: the folder of the JPEGs (`Flicker8k_Dataset/`).
        report: `report(source, reason)` for a bad line, which is then
            skipped; `None` (default) raises `InputError` instead.

    Returns:
        `Example`s in order of first appearance; `image_id` is that order
        (0-based), `captions` keep the file's order.

    Example:
    >>> examples = read_flickr8k("Flickr8k.token.txt", "Flicker8k_Dataset")
    """
    captions = {}
    for number, line in _lines(token_path, report):
        if "\t" not in line or "#" not in line.split("\t", 1)[0]:
            report_or_raise(
                report,
                f"{token_path}: line {number}",
                "expected '<image>#<n><TAB><caption>'",
            )
            continue
        key, caption = line.split("\t", 1)
        captions.setdefault(key.rsplit("#", 1)[0], []).append(caption)
    return _examples(captions, images_dir)


def read_flickr30k(results_csv, images_dir, report=None):
    """Reads Flickr30k's `results.csv` into one `Example` per image.

    Args:
        results_csv: `results.csv` (`image_name| comment_number| comment`),
            or a comma-separated file with `image` and `caption` columns.
        images_dir: the folder of the JPEGs (`flickr30k_images/`).
        report: as `read_flickr8k`.

    Returns:
        `Example`s in order of first appearance, as `read_flickr8k`.

    Example:
    >>> examples = read_flickr30k("results.csv", "flickr30k_images")
    """
    lines = _lines(results_csv, report)
    header = next(lines, None)
    if header is None:
        raise InputError(f"{results_csv}: the file is empty.")
    delimiter = "|" if "|" in header[1] else ","
    columns = [c.strip() for c in next(csv.reader([header[1]], delimiter=delimiter))]
    if {"image_name", "comment"} <= set(columns):
        image_column, caption_column = "image_name", "comment"
    elif {"image", "caption"} <= set(columns):
        image_column, caption_column = "image", "caption"
    else:
        raise InputError(
            f"{results_csv}: expected columns image_name|comment_number|comment "
            f"(or image,caption), found {columns}."
        )
    image_at, caption_at = columns.index(image_column), columns.index(caption_column)
    captions = {}
    for number, line in lines:
        fields = [f.strip() for f in next(csv.reader([line], delimiter=delimiter))]
        if len(fields) != len(columns):
            report_or_raise(
                report,
                f"{results_csv}: line {number}",
                f"expected {len(columns)} fields, found {len(fields)}",
            )
            continue
        captions.setdefault(fields[image_at], []).append(fields[caption_at])
    return _examples(captions, images_dir)


def _lines(path, report):
    """Yields `(line number, text)` for non-blank lines, decoded one by one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"caption file not found: {path}")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                report_or_raise(report, f"{path}: line {number}", "not valid UTF-8")
                continue
            text = text.rstrip("\r\n")
            if text.strip():
                yield number, text


def _examples(captions, images_dir):
    return [
        Example(os.path.join(images_dir, name), image_id, tuple(texts))
        for image_id, (name, texts) in enumerate(captions.items())
    ]
