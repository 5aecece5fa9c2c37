"""Converts a dataset on disk into sharded TFRecords with a manifest.

`convert_examples` streams `Example`s into shards of `shard_size` examples:

- **Bad input is skipped and reported.** Each image is checked
  (`vlpk.data.shards.image_check`): missing, empty, non-image, unsupported,
  oversized (by its header, before decoding) or truncated files are
  skipped, and so are captions that are empty or not UTF-8 (a text-only
  conversation, `vlpk.data.formats.llava`, has no image to check). Each skip is a
  `{"source", "reason"}` entry in `manifest.json` and a line in the log. With
  `strict=True` the first bad record raises `InputError` naming it instead.
- **Streaming.** Examples are consumed one shard at a time, so a CSV of
  millions of rows is never held in memory, and the work is linear in the
  number of examples.
- **Parallel.** Images of a shard are read and checked in a thread pool
  (Pillow decodes outside the GIL); the shard is written in order.
- **Resumable.** Each finished shard is written atomically with a small
  `.json` sidecar (its count and skips). A re-run with the same options
  keeps finished shards and converts only the rest. Shards of other options,
  or of other sources (changed records or images), stop it with an
  `InputError` rather than be mixed in, and so does a folder
  that holds one folder per split (its manifest would be replaced).

`vlpk data convert` (see `vlpk.cli`) wraps it for every supported format;
`vlpk.data.shards.convert_karpathy` writes a file of several splits as one such
folder per split.
"""

import concurrent.futures
import dataclasses
import hashlib
import itertools
import json
import os
import sys
import time

import keras
import tensorflow as tf

from vlpk.data.formats.captions import clean_caption
from vlpk.data.formats.llava import GPT
from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS
from vlpk.data.records.tfrecord import serialize_example
from vlpk.data.shards.image_check import BadImage, check_image
from vlpk.errors import InputError

MANIFEST = "manifest.json"


class SkipLog:
    """Collects skipped records; in strict mode, raises on the first one.

    Args:
        strict: raise `InputError(f"{source}: {reason}")` instead of
            collecting.
        stream: where each skip is logged as it happens (`None`: silent).

    Example:
    >>> skips = SkipLog()
    >>> skips("captions.json: annotations[3]", "unknown image id 99")
    >>> skips.entries
    [{'source': 'captions.json: annotations[3]', 'reason': 'unknown image id 99'}]
    """

    def __init__(self, strict=False, stream=None):
        self.strict = strict
        self.stream = stream
        self.entries = []

    def __call__(self, source, reason):
        if self.strict:
            raise InputError(
                f"{source}: {reason} (--strict stops at the first bad record)"
            )
        self.entries.append({"source": str(source), "reason": str(reason)})
        if self.stream is not None:
            print(f"skipped {source}: {reason}", file=self.stream)


def convert_examples(
    examples,
    out_dir,
    split="train",
    shard_size=1000,
    compression=None,
    workers=None,
    max_pixels=DEFAULT_MAX_PIXELS,
    max_words=128,
    split_long=False,
    strict=False,
    log=None,
    extra_manifest=None,
    extra_options=None,
    verbose=1,
):
    """Writes `examples` as TFRecord shards plus `out_dir/manifest.json`.

    Args:
        examples: an iterable (may be a generator) of `vlpk.data.Example`.
        out_dir: the output folder (created if needed).
        split: the split's name, used in shard names and the manifest.
        shard_size: examples read per shard (a shard holds fewer when some
            are skipped).
        compression: `None` or `"gzip"`.
        workers: threads that read and check images (default: CPU count).
        max_pixels: reject images whose header declares more pixels.
        max_words: captions longer than this are truncated (or split).
        split_long: split long captions into several captions instead.
        strict: raise `InputError` at the first bad record.
        log: a `SkipLog` shared with the reader (pass it as the reader's
            `report`), so the records the reader skips are in the manifest
            too; its `strict` then applies. Default: a new one.
        extra_manifest: more keys for the manifest (format, sources...).
        extra_options: more options that say what the shards hold (e.g. the
            Karpathy splits read): recorded under `options`, and a re-run
            keeps finished shards only when they match too.
        verbose: 1 shows a progress bar and logs skips on stderr.

    Returns:
        The manifest dict: `examples` (written), `skipped` (list of
        `{"source", "reason"}`), `split`, `shards` (`[{"file", "examples"}]`),
        `captions`, `options`, `seconds`.

    Raises:
        InputError: on the first bad record when `strict`, or when `out_dir`
            holds shards written with different options, or the output of a
            conversion with one folder per split (whose manifest this one
            would replace).

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import read_coco_captions, write_shapes
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> val = paths["splits"]["val"]
    >>> from vlpk.data import convert_examples
    >>> manifest = convert_examples(
    ...     read_coco_captions(val["captions"], val["images_dir"]),
    ...     os.path.join(paths["root"], "shards"), split="val", verbose=0)
    >>> manifest["examples"], len(manifest["skipped"]), len(manifest["shards"])
    (2, 0, 1)
    """
    options = _shard_options(
        split, shard_size, compression, max_pixels, max_words, split_long, extra_options
    )
    _refuse_split_folders(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if log is None:
        log = SkipLog(strict, sys.stderr if verbose else None)
    started = time.perf_counter()
    chunks = _named_chunks(examples, split, shard_size, compression)
    shards, seen = _write_shards(chunks, out_dir, options, workers, log, verbose)
    manifest = _manifest(split, shards, seen, log, options, extra_manifest, started)
    _write_manifest(out_dir, manifest, verbose)
    return manifest


def _shard_options(
    split, shard_size, compression, max_pixels, max_words, split_long, extra_options
):
    """The options that say what the shards hold (`convert_examples`' args).

    A re-run keeps finished shards only when these match (see
    `_finished_shard`).

    Raises:
        InputError: when `shard_size` or `compression` is invalid.
    """
    if shard_size <= 0:
        raise InputError(f"shard_size must be positive, got {shard_size}.")
    if compression not in (None, "gzip"):
        raise InputError(f"compression must be None or 'gzip', got {compression!r}.")
    return {
        "split": split,
        "shard_size": shard_size,
        "compression": compression,
        "max_pixels": max_pixels,
        "max_words": max_words,
        "split_long": split_long,
        **(extra_options or {}),
    }


def _named_chunks(examples, split, shard_size, compression):
    """Yields `(file name, examples)` per shard, `shard_size` examples each.

    Only one chunk is held at a time: a generator of millions of examples
    is never read whole.
    """
    iterator = iter(examples)
    for index in itertools.count():
        chunk = list(itertools.islice(iterator, shard_size))
        if not chunk:
            return
        name = f"{split}-{index:05d}.tfrecord" + (".gz" if compression else "")
        yield name, chunk


def _write_shards(chunks, out_dir, options, workers, log, verbose):
    """`(shards, seen)`: each shard's sidecar dict, and the examples read.

    A shard finished by an earlier run with the same `options` is kept, and
    its skips are logged again so the manifest lists them all.
    """
    progress = keras.utils.Progbar(None, unit_name="example") if verbose else None
    shards, seen = [], 0
    workers = workers or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for name, chunk in chunks:
            seen += len(chunk)
            shard = _finished_shard(out_dir, name, options, chunk)
            if shard is None:
                shard = _write_shard(pool, chunk, out_dir, name, options, log)
            else:
                for entry in shard["skipped"]:
                    log(entry["source"], entry["reason"])
            shards.append(shard)
            if progress is not None:
                progress.update(seen)
    if progress is not None:
        progress.update(seen, finalize=True)
    return shards, seen


def _manifest(split, shards, seen, log, options, extra_manifest, started):
    """The manifest dict `convert_examples` returns and writes.

    Conversation shards also count their `answers` (see `_image_answers`):
    a vision-language LM's training pairs, so its steps per epoch are known
    before the first batch.
    """
    answers = sum(s.get("answers", 0) for s in shards)
    return {
        "split": split,
        "examples": sum(s["examples"] for s in shards),
        "captions": sum(s["captions"] for s in shards),
        **({"answers": answers} if answers else {}),
        "skipped": log.entries,
        "records_read": seen,
        "shards": [{"file": s["file"], "examples": s["examples"]} for s in shards],
        "options": options,
        **(extra_manifest or {}),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _write_manifest(out_dir, manifest, verbose):
    """Writes `out_dir/manifest.json`; when `verbose`, says what it holds."""
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    if verbose:
        held = (
            f"{manifest['answers']} answers"
            if "answers" in manifest
            else f"{manifest['captions']} captions"
        )
        print(
            f"wrote {manifest['examples']} examples ({held}) "
            f"in {len(manifest['shards'])} shard(s) to {out_dir}; "
            f"skipped {len(manifest['skipped'])}",
            file=sys.stderr,
        )


def read_manifest(out_dir):
    """The `manifest.json` of `out_dir` as a dict, or `None` when it has none."""
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"{path}: is not valid JSON ({error}); move it away or use a new "
            "--out folder."
        ) from None


def _refuse_split_folders(out_dir):
    """Raises when `out_dir` holds a conversion with one folder per split.

    Its `manifest.json` lists the split folders; a single shard set written
    there would replace that list, so stop as for shards of other options.
    """
    manifest = read_manifest(out_dir)
    if isinstance(manifest, dict) and "splits" in manifest:
        splits = manifest["splits"] if isinstance(manifest["splits"], list) else []
        folders = ", ".join(str(s.get("dir")) for s in splits if isinstance(s, dict))
        raise InputError(
            f"{out_dir} holds a conversion with one folder per split ({folders}); "
            "a single shard set there would replace its manifest.json: use a new "
            "--out folder."
        )


def _sidecar(out_dir, name):
    return os.path.join(out_dir, name + ".json")


def _finished_shard(out_dir, name, options, chunk=None):
    """The sidecar of a shard finished by an earlier run, or `None`.

    Raises:
        InputError: the shard was written with other options, or from other
            sources (`chunk`, when given, differs: records, captions or
            image sizes), so keeping it would mix stale data into the new
            conversion.
    """
    sidecar = _sidecar(out_dir, name)
    if not (os.path.exists(sidecar) and os.path.exists(os.path.join(out_dir, name))):
        return None
    with open(sidecar, encoding="utf-8") as f:
        shard = json.load(f)
    if shard.get("options") != options:
        raise InputError(
            f"{out_dir} holds shards written with other options "
            f"({shard.get('options')}, now {options}): use a new --out folder, or "
            "the same options to resume."
        )
    # Sidecars written before fingerprints were recorded have none: kept.
    sources = None if chunk is None else _fingerprint(chunk)
    if sources is not None and shard.get("sources", sources) != sources:
        raise InputError(
            f"{os.path.join(out_dir, name)} was written from other sources than "
            "the records it would hold now (the annotations or images changed "
            "since): use a new --out folder, or delete the old shards to "
            "convert again."
        )
    return shard


def _fingerprint(chunk):
    """A digest of a shard's source records and the sizes of their images."""
    digest = hashlib.sha256()
    for example in chunk:
        path = example.image_path
        size = os.path.getsize(path) if path and os.path.isfile(path) else -1
        digest.update(repr((dataclasses.astuple(example), size)).encode("utf-8"))
    return digest.hexdigest()


def _write_shard(pool, chunk, out_dir, name, options, log):
    """Checks a chunk's images in `pool` and writes the good ones, in order."""

    def prepare(example):
        captions, caption_skips = _clean_captions(example, options)
        # A VQA record, a conversation or a labelled image needs no caption.
        needs_caption = (
            example.question is None
            and not example.questions
            and not example.is_conversation
            and example.label is None
        )
        if not captions and needs_caption:
            reason = caption_skips[0][1] if caption_skips else "no caption"
            return example, None, reason, []
        if example.is_conversation and not example.image_path:
            return example, (b"", 0, 0), None, []  # text-only: nothing to check
        try:
            data, height, width = check_image(example.image_path, options["max_pixels"])
        except BadImage as error:
            return example, None, str(error), []
        example = dataclasses.replace(example, captions=captions)
        return example, (data, height, width), None, caption_skips

    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    written, captions, answers, skipped_before = 0, 0, 0, len(log.entries)
    compression = "GZIP" if options["compression"] else None
    try:
        with tf.io.TFRecordWriter(tmp, options=compression) as writer:
            for example, image, reason, caption_skips in pool.map(prepare, chunk):
                if reason is not None:
                    log(example.image_path, reason)
                    continue
                for source, caption_reason in caption_skips:
                    log(source, caption_reason)
                writer.write(serialize_example(example, *image))
                written += 1
                captions += len(example.captions)
                answers += _image_answers(example, image[0])
    except BaseException:
        os.remove(tmp)
        raise
    os.replace(tmp, path)
    shard = {
        "file": name,
        "examples": written,
        "captions": captions,
        **({"answers": answers} if answers else {}),
        "skipped": log.entries[skipped_before:],
        "options": options,
        "sources": _fingerprint(chunk),
    }
    write_json(_sidecar(out_dir, name), shard)
    return shard


def _image_answers(example, image_bytes):
    """The assistant turns of a conversation with an image: one training
    pair each for a vision-language LM (a text-only one gives it none)."""
    if not example.is_conversation or not image_bytes:
        return 0
    return sum(role == GPT for role in example.roles)


def _clean_captions(example, options):
    """`(captions, skips)`: the cleaned captions, and `(source, reason)` pairs.

    One bad caption among good ones is dropped and reported (the image keeps
    the rest); the caller skips an image whose every caption is bad, unless
    it is a VQA record (with a question), which may have no captions at all.
    """
    cleaned, skips = [], []
    for index, caption in enumerate(example.captions):
        try:
            cleaned.extend(
                clean_caption(
                    caption,
                    max_words=options["max_words"],
                    split_long=options["split_long"],
                )
            )
        except InputError as error:
            skips.append((f"{example.image_path}: caption {index}", str(error)))
    return tuple(cleaned), skips


def write_json(path, value):
    """Writes `value` as JSON to `path` atomically (a reader never sees half)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
