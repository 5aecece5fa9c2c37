"""Converts a dataset into sharded TFRecords as an Apache Beam pipeline.

The same shards, sidecars and `manifest.json` as `vlpk.data.shards.convert`'s
thread-pool converter (apart from the manifest's `seconds`), written by any
Beam runner: the `DirectRunner` on this machine, Dataflow, Flink or Spark on
a cluster. It needs the optional extra: `pip install "vlpk[beam]"`.

Shard `k` holds the reader's records `k * shard_size` to
`(k + 1) * shard_size - 1`, as in the local converter, so each shard is one
Beam task that runs the local converter's own per-shard code (image checks,
caption cleaning, the shard and its sidecar; a finished shard of the same
options is kept). The skips are then put in the local converter's order and
the manifest is built by the same function (`beam_shards`).

Two kinds of input:

- **A CSV/TSV of pairs (`CsvSource`), read in the pipeline** (`beam_csv`).
  The driver reads only the header; tasks count blocks of the data bytes,
  then each shard's task seeks to its rows and reads only those. Memory is
  one shard per task.
- **Any other iterable of `Example`s** (COCO, Flickr, LLaVA, labelled
  folders...; `beam_chunks`). The driver reads it with its reader and hands
  the chunks to the pipeline, so they are all held in the driver's memory
  at once (those readers hold their JSON in memory already).

Limits:

- Paths are opened with `open()`: on a cluster the CSV, the images and the
  output folder must be on a file system every worker mounts at the same
  path (relative paths resolve in each worker's working directory).
- The CSV rows are parsed by `vlpk.data.formats.web_pairs.parse_row`, the
  per-line function of `iter_caption_pairs` (which can only read a file
  from its start); a quoted field may not span a line break, as there.
- Skips are printed when the pipeline has finished, not as they happen.
  With `strict`, every shard is converted before the first bad record (in
  the local converter's order) raises the same `InputError`; the shards
  already written are valid and a later run keeps them.
- A shard of other options already in the output folder stops the run
  before the pipeline starts, even a stale one past this run's last shard
  (which the local converter would ignore).
- Byte for byte only within one process: `serialize_example` writes a
  record's feature map in an order protobuf (upb) seeds per process, so
  two processes (two local runs too, or Beam workers in other processes)
  write equal records in different bytes. The DirectRunner's default
  in-process mode writes the local converter's bytes.
- `workers` is the thread pool of each shard task, so a runner that runs
  several tasks at once uses that many threads per task.
"""

import os
import sys
import time

from vlpk.data.formats.registry import (
    _as_list,
    default_split,
    read_labelled,
    read_source,
    source_manifest,
)
from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS
from vlpk.data.shards.beam_chunks import chunk_pipeline, read_chunks
from vlpk.data.shards.beam_csv import (
    CsvSource,
    csv_pipeline,
    csv_source,
    default_block_bytes,
)
from vlpk.data.shards.beam_pipeline import (
    BEAM_MISSING,
    import_beam,
    pipeline_flags,
    run_pipeline,
)
from vlpk.data.shards.beam_shards import check_finished_shards, merge_results
from vlpk.data.shards.convert import (
    SkipLog,
    _manifest,
    _refuse_split_folders,
    _shard_options,
    _write_manifest,
)
from vlpk.errors import InputError

# `CsvSource`, `csv_source` and `BEAM_MISSING` live in the `beam_*` modules;
# they are this module's public names too.
__all__ = [
    "BEAM_FORMATS",
    "BEAM_MISSING",
    "CsvSource",
    "LABELLED",
    "convert_dataset_beam",
    "convert_examples_beam",
    "csv_source",
]

# The formats `convert_dataset_beam` converts: each is one shard set with no
# side files (Karpathy writes one folder per split, VQA an answer vocabulary).
BEAM_FORMATS = ("csv", "coco", "flickr8k", "flickr30k", "llava")
LABELLED = ("imagefolder", "labels_csv")


def convert_examples_beam(
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
    runner="DirectRunner",
    pipeline_options=None,
    block_bytes=None,
):
    """`vlpk.data.convert_examples`, run as a Beam pipeline.

    Takes `convert_examples`' arguments and writes the same output, plus:

    Args:
        examples: a `CsvSource` (read in the pipeline), or an iterable of
            `Example`s (read here and held in memory; see the module doc).
        runner: the Beam runner, unless `pipeline_options` names one.
        pipeline_options: Beam's flags, as one string
            (`"--runner=DirectRunner --direct_num_workers=2"`), a list of
            strings, or a `PipelineOptions`.
        block_bytes: for a `CsvSource`, the bytes each counting task reads
            (default: about one shard's worth, from the first rows).

    Returns:
        The manifest dict, as `convert_examples` returns it.

    Raises:
        InputError: as `convert_examples`, and when Beam is not installed.

    Example:
    See `vlpk.data.shards.beam_csv.csv_source` for a run on the local
    DirectRunner. On Dataflow (this needs a Google Cloud project, so it is
    not run here):

    >>> manifest = convert_examples_beam(  # doctest: +SKIP
    ...     csv_source("cc12m.tsv", "cc12m/images"),
    ...     "shards/cc12m",
    ...     pipeline_options="--runner=DataflowRunner --project=my-project",
    ... )
    """
    import_beam()  # before any work: the message says how to install it
    options = _shard_options(
        split, shard_size, compression, max_pixels, max_words, split_long, extra_options
    )
    _refuse_split_folders(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    check_finished_shards(out_dir, options)
    if log is None:
        log = SkipLog(strict, sys.stderr if verbose else None)
    started = time.perf_counter()
    flags = pipeline_flags(runner, pipeline_options)
    if isinstance(examples, CsvSource):
        block = block_bytes or default_block_bytes(examples, shard_size)
        results = run_pipeline(
            out_dir, flags, csv_pipeline(examples, out_dir, options, workers, block)
        )
        shards, seen = merge_results(results, log)
    else:
        chunks, readers = read_chunks(examples, options, log)
        results = run_pipeline(
            out_dir, flags, chunk_pipeline(chunks, out_dir, options, workers)
        )
        shards, seen = merge_results(results, log, readers)
    manifest = _manifest(split, shards, seen, log, options, extra_manifest, started)
    _write_manifest(out_dir, manifest, verbose)
    return manifest


def convert_dataset_beam(
    format,
    annotations,
    images_dir,
    out_dir,
    split=None,
    strict=False,
    verbose=1,
    image_column="image",
    caption_column="caption",
    label_column="label",
    **options,
):
    """`vlpk.data.formats.registry.convert_dataset`, run as a Beam pipeline.

    Takes `convert_dataset`'s arguments (but `top_answers`) and
    `convert_examples_beam`'s (`runner`, `pipeline_options`...), and writes
    the same output. `csv` is read in the pipeline; `coco`, `flickr8k`,
    `flickr30k`, `llava`, `imagefolder` and `labels_csv` are read here.

    Raises:
        InputError: for `karpathy` and `vqa` (use `convert_dataset`), when
            Beam is not installed, or as `convert_dataset`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import write_shapes
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> images = paths["splits"]["val"]["images_dir"]
    >>> tsv = os.path.join(paths["root"], "pairs.tsv")
    >>> with open(tsv, "w") as f:
    ...     print("image\\tcaption", file=f)
    ...     for name in sorted(os.listdir(images)):
    ...         print(f"{name}\\ta shape", file=f)
    >>> manifest = convert_dataset_beam(
    ...     "csv", tsv, images, os.path.join(paths["root"], "shards"),
    ...     pipeline_options="--runner=DirectRunner --direct_num_workers=1",
    ...     verbose=0)
    >>> manifest["examples"]
    2
    """
    if format not in BEAM_FORMATS + LABELLED:
        raise InputError(
            f"--runner beam converts --format {', '.join(BEAM_FORMATS + LABELLED)}; "
            f"convert {format} with the default runner."
        )
    import_beam()
    extra = source_manifest(format, annotations, images_dir)
    log = SkipLog(strict, sys.stderr if verbose else None)
    if format == "csv":
        files = _as_list(annotations)
        if len(files) != 1:
            raise InputError(f"--format csv takes 1 annotation file, got {len(files)}.")
        examples = csv_source(files[0], images_dir, None, image_column, caption_column)
    elif format in LABELLED:
        examples, extra["class_names"] = read_labelled(
            format, annotations, images_dir, label_column, image_column, log
        )
    else:
        examples = read_source(format, annotations, images_dir, report=log)
    return convert_examples_beam(
        examples,
        out_dir,
        split=split.replace(",", "+") if split else default_split(format, annotations),
        log=log,
        extra_manifest=extra,
        verbose=verbose,
        **options,
    )
