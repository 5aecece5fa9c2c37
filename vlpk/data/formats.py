"""`vlpk data convert`: one entry point for every supported dataset format.

| `--format` | `--annotations` | reader |
|---|---|---|
| `coco` | `captions_<split>.json` | `read_coco_captions` |
| `karpathy` | `dataset_<name>.json`, `--split` picks | `read_karpathy` |
| `flickr8k` | `Flickr8k.token.txt` | `read_flickr8k` |
| `flickr30k` | `results.csv` | `read_flickr30k` |
| `vqa` | questions JSON, then (optionally) annotations JSON | `read_vqa` |
| `csv` | a CSV/TSV of image path + caption (streamed) | `iter_caption_pairs` |
"""

import os
import sys

from vlpk.data.coco import read_coco_captions
from vlpk.data.convert import SkipLog, convert_examples
from vlpk.data.flickr import read_flickr8k, read_flickr30k
from vlpk.data.karpathy import read_karpathy
from vlpk.data.vqa import read_vqa
from vlpk.data.vqa_answers import answer_vocabulary
from vlpk.data.web_pairs import iter_caption_pairs
from vlpk.errors import InputError

FORMATS = ("coco", "karpathy", "flickr8k", "flickr30k", "vqa", "csv")
ANSWER_VOCABULARY = "answer_vocabulary.txt"


def read_source(
    format,
    annotations,
    images_dir,
    split=None,
    report=None,
    image_column="image",
    caption_column="caption",
):
    """The `Example`s of a dataset in `format` (a generator for `csv`).

    Args:
        format: one of `FORMATS`.
        annotations: the annotation file(s): a path, or a list of paths
            (`vqa` takes the questions file, then the annotations file).
        images_dir: the folder the images are relative to.
        split: for `karpathy`, the split(s) to read, e.g. `"train,restval"`.
        report: `report(source, reason)` for bad records (`None`: raise).
        image_column: for `csv`, the image path column.
        caption_column: for `csv`, the caption column.

    Example:
    >>> examples = read_source("flickr8k", "Flickr8k.token.txt", "Flicker8k_Dataset")
    """
    files = _as_list(annotations)
    expected = 2 if format == "vqa" else 1
    if not 1 <= len(files) <= expected:
        raise InputError(
            f"--format {format} takes {'1 or 2' if expected == 2 else 1} "
            f"annotation file(s), got {len(files)}."
        )
    if format == "coco":
        return read_coco_captions(files[0], images_dir, report=report)
    if format == "karpathy":
        splits = tuple(split.split(",")) if split else None
        return read_karpathy(files[0], images_dir, split=splits, report=report)
    if format == "flickr8k":
        return read_flickr8k(files[0], images_dir, report=report)
    if format == "flickr30k":
        return read_flickr30k(files[0], images_dir, report=report)
    if format == "vqa":
        answers = files[1] if len(files) > 1 else None
        return read_vqa(files[0], answers, images_dir, report=report)
    if format == "csv":
        return iter_caption_pairs(
            files[0],
            images_dir,
            image_column=image_column,
            caption_column=caption_column,
            report=report,
        )
    raise InputError(f"Unknown --format {format!r}; choose one of {FORMATS}.")


def convert_dataset(
    format,
    annotations,
    images_dir,
    out_dir,
    split=None,
    strict=False,
    top_answers=3129,
    verbose=1,
    image_column="image",
    caption_column="caption",
    **options,
):
    """Reads a dataset in `format` and writes it as shards (see `convert_examples`).

    For `vqa`, also writes `answer_vocabulary.txt`: the `top_answers` most
    frequent answers, one per line, for the VQA head's soft-score targets.

    Returns:
        The manifest dict.

    Example:
    >>> convert_dataset("coco", "annotations/captions_train2014.json",
    ...                 "train2014", "shards/coco-train", split="train")
    """
    log = SkipLog(strict, sys.stderr if verbose else None)
    examples = read_source(
        format,
        annotations,
        images_dir,
        split=split,
        report=log,
        image_column=image_column,
        caption_column=caption_column,
    )
    extra = {
        "format": format,
        "annotations": [os.fspath(a) for a in _as_list(annotations)],
        "images": os.fspath(images_dir),
    }
    if format == "vqa":
        examples = list(examples)
        vocabulary = answer_vocabulary(examples, top_k=top_answers)
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, ANSWER_VOCABULARY), "w", encoding="utf-8") as f:
            f.writelines(f"{answer}\n" for answer in vocabulary)
        extra["answer_vocabulary"] = ANSWER_VOCABULARY
        extra["answers"] = len(vocabulary)
    return convert_examples(
        examples,
        out_dir,
        split=split.replace(",", "+") if split else "train",
        log=log,
        extra_manifest=extra,
        verbose=verbose,
        **options,
    )


def _as_list(annotations):
    if isinstance(annotations, (str, os.PathLike)):
        return [annotations]
    return list(annotations)
