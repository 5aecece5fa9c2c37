"""`vlpk data convert --format karpathy`: one shard folder per split.

A Karpathy split file (`dataset_coco.json`, ...) holds the train, val, test
and restval images together. Written as one shard set, they would all be
trained on, the test images included. So:

- Without `--split`, each split goes to its own folder `OUT/<split>/`, with
  its own `manifest.json` (`"split": "<split>"`), and `OUT/manifest.json`
  lists the folders and their counts:

  ```
  {"splits": [{"split": "train", "dir": "train", "examples": 82783,
               "captions": ...}, ...],
   "examples": 123287, "captions": ..., "skipped": [...],
   "format": "karpathy", ...}
  ```

  `vlpk.data.shard_files` (and so `caption_pair_dataset`) refuses `OUT`
  itself and names the split folders to choose from.
- `--split train,restval` merges the splits asked for into one shard set in
  `OUT`, named after what it holds: `"split": "train+restval"`, shards
  `train+restval-00000.tfrecord`, ...

The splits read are recorded in each manifest's `options`
(`"karpathy_splits"`), so a re-run resumes only shards of the same splits.
"""

import os
import sys
import time

from vlpk.data.formats.karpathy import SPLITS, read_karpathy, read_karpathy_splits
from vlpk.data.shards.convert import (
    MANIFEST,
    SkipLog,
    convert_examples,
    read_manifest,
    write_json,
)
from vlpk.errors import InputError


def parse_splits(text):
    """The Karpathy splits a `--split` value names, in the order of `SPLITS`.

    The order is fixed so that `train,restval` and `restval,train` name the
    same output (and resume the same shards).

    Args:
        text: comma-separated split names, e.g. `"train,restval"`.

    Returns:
        A tuple of distinct names from `SPLITS`.

    Raises:
        InputError: a name that is not a Karpathy split.

    Example:
    >>> from vlpk.data.shards.convert_karpathy import parse_splits
    >>> parse_splits("restval, train")
    ('train', 'restval')
    """
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in SPLITS:
            raise InputError(
                f"Unknown Karpathy split {name!r} in --split {text!r}; choose "
                f"from {', '.join(SPLITS)}, comma-separated (e.g. train,restval), "
                "or leave --split out to write one folder per split."
            )
    return tuple(name for name in SPLITS if name in names)


def convert_karpathy(
    path,
    images_dir,
    out_dir,
    split=None,
    strict=False,
    verbose=1,
    extra_manifest=None,
    **options,
):
    """Converts a Karpathy split file: one folder per split, or merged splits.

    Args:
        path: `dataset_coco.json`, `dataset_flickr8k.json` or
            `dataset_flickr30k.json`.
        images_dir: the image folder (see `vlpk.data.read_karpathy`).
        out_dir: the output folder.
        split: `None` writes each split the file holds to `out_dir/<split>/`
            and lists them in `out_dir/manifest.json`. A comma-separated
            list (`"train,restval"`) writes those splits as one shard set in
            `out_dir`, named `"train+restval"`.
        strict: raise `InputError` at the first bad record.
        verbose: 1 shows progress and skips on stderr.
        extra_manifest: more keys for the manifests (format, sources...).
        **options: passed to `vlpk.data.convert_examples` (`shard_size`,
            `compression`, `workers`, ...).

    Returns:
        The manifest of `out_dir`: with `split=None`, the list of split
        folders (`"splits"`) with the totals `examples`, `captions` and
        `skipped` (every record skipped, in any split or in none); else the
        merged shard set's manifest.

    Raises:
        InputError: an unknown split name; `out_dir` holds output of the
            other layout or of other options (see `convert_examples`); with
            `strict`, the first bad record.

    Example:
    >>> import json, os, tempfile
    >>> from vlpk.data import write_shapes
    >>> from vlpk.data.shards.convert_karpathy import convert_karpathy
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> names = sorted(os.listdir(paths["splits"]["val"]["images_dir"]))
    >>> path = os.path.join(paths["root"], "dataset_shapes.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": [
    ...         {"filepath": "val", "filename": name, "imgid": i, "split": split,
    ...          "sentences": [{"raw": "a shape"}]}
    ...         for i, (name, split) in enumerate(zip(names, ["train", "test"]))]}, f)
    >>> manifest = convert_karpathy(path, os.path.join(paths["root"], "images"),
    ...                             os.path.join(paths["root"], "shards"), verbose=0)
    >>> {s["split"]: s["examples"] for s in manifest["splits"]}
    {'train': 1, 'test': 1}
    """
    if split is None:
        return _convert_each_split(
            path, images_dir, out_dir, strict, verbose, extra_manifest, options
        )
    names = parse_splits(split)
    log = SkipLog(strict, sys.stderr if verbose else None)
    examples = read_karpathy(path, images_dir, split=names, report=log)
    return convert_examples(
        examples,
        out_dir,
        split="+".join(names),
        log=log,
        extra_manifest=extra_manifest,
        extra_options={"karpathy_splits": list(names)},
        verbose=verbose,
        **options,
    )


def _convert_each_split(
    path, images_dir, out_dir, strict, verbose, extra_manifest, options
):
    """Writes each split to `out_dir/<split>/`, then `out_dir/manifest.json`."""
    _refuse_single_shard_set(out_dir)
    started = time.perf_counter()
    stream = sys.stderr if verbose else None
    unplaced = SkipLog(strict, stream)  # images whose split is unknown
    logs = {name: SkipLog(strict, stream) for name in SPLITS}
    by_split = read_karpathy_splits(
        path, images_dir, report=unplaced, split_reports=logs
    )
    splits, manifests = [], []
    for number, (name, examples) in enumerate(by_split.items(), start=1):
        folder = os.path.join(out_dir, name)
        if verbose:
            print(
                f"split {name} ({number} of {len(by_split)}): "
                f"{len(examples)} image(s) -> {folder}",
                file=sys.stderr,
            )
        manifest = convert_examples(
            examples,
            folder,
            split=name,
            log=logs[name],
            extra_manifest=extra_manifest,
            extra_options={"karpathy_splits": [name]},
            verbose=verbose,
            **options,
        )
        manifests.append(manifest)
        splits.append(
            {
                "split": name,
                "dir": name,
                "examples": manifest["examples"],
                "captions": manifest["captions"],
            }
        )
    manifest = {
        "splits": splits,
        "examples": sum(m["examples"] for m in manifests),
        "captions": sum(m["captions"] for m in manifests),
        "skipped": unplaced.entries + [s for m in manifests for s in m["skipped"]],
        "records_read": sum(m["records_read"] for m in manifests),
        **(extra_manifest or {}),
        "seconds": round(time.perf_counter() - started, 3),
    }
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


def _refuse_single_shard_set(out_dir):
    """Raises when `out_dir` holds one shard set (done, or cut short).

    Writing split folders there would replace its `manifest.json`, and a
    reader could no longer find those shards: stop, as `convert_examples`
    does for shards of other options.
    """
    manifest = read_manifest(out_dir)
    if manifest is not None and "splits" in manifest:
        return  # the same layout: each split folder resumes on its own
    shards = os.path.isdir(out_dir) and any(
        name.endswith((".tfrecord", ".tfrecord.gz")) for name in os.listdir(out_dir)
    )
    if shards or manifest is not None:
        manifest = manifest if isinstance(manifest, dict) else {}
        named = f" (split {manifest['split']!r})" if "split" in manifest else ""
        raise InputError(
            f"{out_dir} holds a single shard set{named}; converting without "
            "--split writes one folder per split there and would replace its "
            "manifest.json: use a new --out folder."
        )
