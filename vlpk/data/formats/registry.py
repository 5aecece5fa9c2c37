"""`vlpk data convert`: one entry point for every supported dataset format.

| `--format` | `--annotations` | reader |
|---|---|---|
| `coco` | `captions_<split>.json` | `read_coco_captions` |
| `karpathy` | `dataset_<name>.json` (all splits) | `read_karpathy(_splits)` |
| `flickr8k` | `Flickr8k.token.txt` | `read_flickr8k` |
| `flickr30k` | `results.csv` | `read_flickr30k` |
| `vqa` | questions JSON, then (optionally) annotations JSON | `read_vqa` |
| `csv` | a CSV/TSV of image path + caption (streamed) | `iter_caption_pairs` |
| `llava` | LLaVA's conversation JSON (streamed) | `read_llava` |
| `imagefolder` | none: `--images` holds one folder per class | `read_image_folder` |
| `labels_csv` | a CSV/TSV of image path + class label | `read_labelled_csv` |

The two labelled formats write their class names into the manifest
(`class_names`, in label order).

Only Karpathy files hold several splits; each other source is one split (or,
for Flickr and CSV, no split at all), named by `--split`. Without it, a COCO
or VQA file is named after the split in its file name (`captions_val2014.json`
and `v2_OpenEnded_mscoco_val2014_questions.json` give `val2014`), so a
validation file is never labelled "train"; any other source is `train`.
"""

import os
import re
import sys

from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.flickr import read_flickr8k, read_flickr30k
from vlpk.data.formats.karpathy import read_karpathy
from vlpk.data.formats.labelled import read_image_folder, read_labelled_csv
from vlpk.data.formats.llava import read_llava
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.formats.vqa_answers import answer_vocabulary
from vlpk.data.formats.web_pairs import iter_caption_pairs
from vlpk.data.records.vqa_groups import group_questions
from vlpk.data.shards.convert import SkipLog, convert_examples
from vlpk.data.shards.convert_karpathy import convert_karpathy
from vlpk.errors import InputError

FORMATS = (
    "coco",
    "karpathy",
    "flickr8k",
    "flickr30k",
    "vqa",
    "csv",
    "llava",
    "imagefolder",
    "labels_csv",
)
# Formats whose records carry a class label, and whose reader gives the names.
LABELLED = ("imagefolder", "labels_csv")
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
    """The `Example`s of a dataset in `format` (a generator for `csv`, `llava`).

    Args:
        format: one of `FORMATS`.
        annotations: the annotation file(s): a path, or a list of paths
            (`vqa` takes the questions file, then the annotations file).
        images_dir: the folder the images are relative to.
        split: for `karpathy`, the split(s) to read, e.g. `"train,restval"`
            (`None`: every image of every split, merged; see
            `vlpk.data.read_karpathy_splits` to keep them apart).
        report: `report(source, reason)` for bad records (`None`: raise).
        image_column: for `csv`, the image path column.
        caption_column: for `csv`, the caption column.

    Example:
    Shapes writes its captions in COCO's layout:

    >>> import os, tempfile
    >>> from vlpk.data import write_shapes
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> val = paths["splits"]["val"]
    >>> from vlpk.data import read_source
    >>> examples = read_source("coco", val["captions"], val["images_dir"])
    >>> len(examples), len(examples[0].captions) > 0
    (2, True)
    """
    files = _annotation_files(format, annotations)
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
    if format == "llava":
        return read_llava(files[0], images_dir, report=report)
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
    label_column="label",
    **options,
):
    """Reads a dataset in `format` and writes it as shards (see `convert_examples`).

    For `karpathy`, whose file mixes the splits, each split is written to its
    own folder `out_dir/<split>/`, listed in `out_dir/manifest.json`; with
    `split` (`"train,restval"`), those splits are merged into one shard set
    named `"train+restval"` (see `vlpk.data.shards.convert_karpathy`). Every other
    format is one shard set named `split` (default `"train"`; commas become
    `+`).

    For `vqa`, also writes `answer_vocabulary.txt`: the `top_answers` most
    frequent answers, one per line, for the VQA head's soft-score targets.

    Returns:
        The manifest dict (for `karpathy` without `split`, the one that lists
        the split folders).

    Example:
    Shapes writes its captions in COCO's layout:

    >>> import os, tempfile
    >>> from vlpk.data import write_shapes
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> val = paths["splits"]["val"]
    >>> from vlpk.data import convert_dataset
    >>> out = os.path.join(os.path.dirname(paths["root"]), "shards")
    >>> manifest = convert_dataset("coco", val["captions"], val["images_dir"],
    ...                            out, split="val", verbose=0)
    >>> manifest["split"], manifest["examples"], manifest["skipped"]
    ('val', 2, [])
    """
    extra = source_manifest(format, annotations, images_dir)
    if format == "karpathy":
        return convert_karpathy(
            _annotation_files(format, annotations)[0],
            images_dir,
            out_dir,
            split=split,
            strict=strict,
            verbose=verbose,
            extra_manifest=extra,
            **options,
        )
    log = SkipLog(strict, sys.stderr if verbose else None)
    if format in LABELLED:
        examples, extra["class_names"] = read_labelled(
            format, annotations, images_dir, label_column, image_column, log
        )
    else:
        examples = read_source(
            format,
            annotations,
            images_dir,
            split=split,
            report=log,
            image_column=image_column,
            caption_column=caption_column,
        )
    if format == "vqa":
        examples = _vqa_records(examples, out_dir, top_answers, extra)
    return convert_examples(
        examples,
        out_dir,
        split=split.replace(",", "+") if split else default_split(format, annotations),
        log=log,
        extra_manifest=extra,
        verbose=verbose,
        **options,
    )


def source_manifest(format, annotations, images_dir):
    """The manifest's record of what was converted: format and inputs.

    Both runners write it, so their manifests are the same.
    """
    return {
        "format": format,
        "annotations": [os.fspath(a) for a in _as_list(annotations)],
        "images": os.fspath(images_dir),
    }


def _vqa_records(examples, out_dir, top_answers, extra):
    """Writes the answer vocabulary; returns one record an image.

    Each image is stored once, its questions inside (`group_questions`).
    """
    examples = list(examples)
    vocabulary = answer_vocabulary(examples, top_k=top_answers)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, ANSWER_VOCABULARY), "w", encoding="utf-8") as f:
        f.writelines(f"{answer}\n" for answer in vocabulary)
    extra["answer_vocabulary"] = ANSWER_VOCABULARY
    extra["answers"] = len(vocabulary)
    extra["questions_read"] = len(examples)
    return group_questions(examples)


def read_labelled(format, annotations, images_dir, label_column, image_column, log):
    """`(examples, class_names)` of an `imagefolder` or `labels_csv` source."""
    if format == "imagefolder":
        return read_image_folder(images_dir, report=log)
    return read_labelled_csv(
        _annotation_files(format, annotations)[0],
        images_dir,
        image_column=image_column,
        label_column=label_column,
        report=log,
    )


# The official file names: captions_<split>.json,
# v2_OpenEnded_mscoco_<split>_questions.json, <...>_<split>_annotations.json.
_SPLIT_IN_NAME = re.compile(
    r"(?:^|_)((?:train|val|test-dev|test)\d{4})(?:_questions|_annotations)?\.json$"
)


def default_split(format, annotations):
    """The split name of a conversion without `--split`.

    COCO and VQA files are named after their split (`captions_val2014.json`,
    `v2_OpenEnded_mscoco_val2014_questions.json`): that name is used, so
    validation data is never written as "train". Anything else is `"train"`.

    Example:
    >>> default_split("vqa", ["v2_OpenEnded_mscoco_val2014_questions.json"])
    'val2014'
    >>> default_split("coco", "annotations/captions_train2017.json")
    'train2017'
    >>> default_split("csv", "pairs.csv")
    'train'
    """
    if format in ("coco", "vqa"):
        name = os.path.basename(os.fspath(_as_list(annotations)[0]))
        match = _SPLIT_IN_NAME.search(name)
        if match:
            return match.group(1)
    return "train"


def _annotation_files(format, annotations):
    """The annotation files as a list, checked against what `format` takes."""
    files = _as_list(annotations)
    expected = 2 if format == "vqa" else 1
    if not 1 <= len(files) <= expected:
        raise InputError(
            f"--format {format} takes {'1 or 2' if expected == 2 else 1} "
            f"annotation file(s), got {len(files)}."
        )
    return files


def _as_list(annotations):
    if annotations is None:
        return []
    if isinstance(annotations, (str, os.PathLike)):
        return [annotations]
    return list(annotations)
