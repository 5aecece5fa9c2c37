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
the manifest is built by the same function.

Two kinds of input:

- **A CSV/TSV of pairs (`CsvSource`), read in the pipeline.** The driver reads
  only the header. The data bytes are cut into blocks (about one shard's
  worth each); one task per block counts its lines and good rows, then one
  task per shard seeks to the block that holds its first row and reads only
  its rows. Memory is one shard per task, and the driver and the runner
  hold only per-block counts, shard descriptions and skip entries. Each row
  is parsed two or three times (counting, plus at most a block skipped to
  reach a shard's start).
- **Any other iterable of `Example`s** (COCO, Flickr, LLaVA, labelled
  folders...). The driver reads it with its reader and hands the chunks to
  the pipeline, so they are all held in the driver's memory at once (those
  readers hold their JSON in memory already).

Limits:

- Paths are opened with `open()`: on a cluster the CSV, the images and the
  output folder must be on a file system every worker mounts at the same
  path (relative paths resolve in each worker's working directory).
- The CSV rows are parsed here with the helpers of
  `vlpk.data.formats.web_pairs.iter_caption_pairs`, mirroring its loop (it can only
  read a file from its start); a quoted field may not span a line break,
  as there.
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

import bisect
import concurrent.futures
import dataclasses
import json
import math
import os
import re
import shlex
import sys
import time
import uuid

from vlpk.data.formats.registry import (
    _as_list,
    default_split,
    read_labelled,
    read_source,
)
from vlpk.data.formats.web_pairs import _column_indices, _read_header, _row_fields
from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS
from vlpk.data.records.example import Example, MissingFileError, report_or_raise
from vlpk.data.shards.convert import (
    SkipLog,
    _finished_shard,
    _manifest,
    _named_chunks,
    _refuse_split_folders,
    _shard_options,
    _write_manifest,
    _write_shard,
)
from vlpk.errors import InputError

BEAM_MISSING = 'the Beam runner needs Apache Beam: pip install "vlpk[beam]"'
# The formats `convert_dataset_beam` converts: each is one shard set with no
# side files (Karpathy writes one folder per split, VQA an answer vocabulary).
BEAM_FORMATS = ("csv", "coco", "flickr8k", "flickr30k", "llava")
LABELLED = ("imagefolder", "labels_csv")
_MIN_BLOCK, _MAX_BLOCK = 1 << 16, 1 << 26


@dataclasses.dataclass(frozen=True)
class CsvSource:
    """A CSV/TSV of (image path, caption) pairs, to read in a Beam pipeline.

    Build it with `csv_source`, which checks the file and its header.

    Args:
        path: the file.
        images_dir: the folder the image paths are joined to.
        delimiter: the field separator.
        width: the number of header columns.
        image_at: the image path column's index.
        caption_at: the caption column's index.
        data_start: the byte offset of the first data line.
        size: the file's size in bytes.
    """

    path: str
    images_dir: str
    delimiter: str
    width: int
    image_at: int
    caption_at: int
    data_start: int
    size: int


def csv_source(
    path,
    images_dir=None,
    delimiter=None,
    image_column="image",
    caption_column="caption",
):
    """A `CsvSource`; the arguments and errors are `iter_caption_pairs`'.

    Raises:
        MissingFileError: the file does not exist.
        InputError: the file is empty, or its header is not UTF-8 or lacks
            a column.

    Example:
    >>> source = csv_source("cc3m_train.tsv", "cc3m/images")  # doctest: +SKIP
    >>> convert_examples_beam(source, "shards/cc3m")  # doctest: +SKIP
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
    return CsvSource(
        path,
        os.fspath(images_dir),
        delimiter,
        len(columns),
        image_at,
        caption_at,
        data_start,
        os.path.getsize(path),
    )


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
    >>> manifest = convert_examples_beam(  # doctest: +SKIP
    ...     csv_source("cc12m.tsv", "cc12m/images"),
    ...     "shards/cc12m",
    ...     pipeline_options="--runner=DataflowRunner --project=my-project",
    ... )
    """
    _import_beam()  # before any work: the message says how to install it
    options = _shard_options(
        split, shard_size, compression, max_pixels, max_words, split_long, extra_options
    )
    _refuse_split_folders(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    _check_finished_shards(out_dir, options)
    if log is None:
        log = SkipLog(strict, sys.stderr if verbose else None)
    started = time.perf_counter()
    flags = _pipeline_flags(runner, pipeline_options)
    if isinstance(examples, CsvSource):
        block = block_bytes or _block_bytes(examples, shard_size)
        results = _run(
            out_dir, flags, _csv_pipeline(examples, out_dir, options, workers, block)
        )
        shards, seen = _merge(results, log)
    else:
        chunks, readers = _read_chunks(examples, options, log)
        results = _run(
            out_dir, flags, _chunk_pipeline(chunks, out_dir, options, workers)
        )
        shards, seen = _merge(results, log, readers)
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
    >>> manifest = convert_dataset_beam(  # doctest: +SKIP
    ...     "csv", "cc3m_train.tsv", "cc3m/images", "shards/cc3m",
    ...     pipeline_options="--runner=DirectRunner --direct_num_workers=4")
    """
    if format not in BEAM_FORMATS + LABELLED:
        raise InputError(
            f"--runner beam converts --format {', '.join(BEAM_FORMATS + LABELLED)}; "
            f"convert {format} with the default runner."
        )
    _import_beam()
    # As `convert_dataset` writes them, so that the manifests are the same.
    extra = {
        "format": format,
        "annotations": [os.fspath(a) for a in _as_list(annotations)],
        "images": os.fspath(images_dir),
    }
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


def _import_beam():
    """The `apache_beam` module, or an `InputError` saying how to install it."""
    try:
        import apache_beam
    except ImportError:
        raise InputError(BEAM_MISSING) from None
    return apache_beam


def _pipeline_flags(runner, pipeline_options):
    """Beam's `PipelineOptions` from a string, a list of flags or the options."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if isinstance(pipeline_options, PipelineOptions):
        return pipeline_options
    if isinstance(pipeline_options, str):
        flags = shlex.split(pipeline_options)
    else:
        flags = list(pipeline_options or [])
    if not any(f == "--runner" or f.startswith("--runner=") for f in flags):
        flags = [f"--runner={runner}", *flags]
    return PipelineOptions(flags)


def _run(out_dir, flags, build):
    """Runs `build(pipeline)`'s results through Beam; returns them, in order.

    The results come back through a file in `out_dir` (every worker can
    write there), so that this works on any runner, not only in-process.
    """
    beam = _import_beam()
    path = os.path.join(os.path.abspath(out_dir), f".beam-results-{uuid.uuid4().hex}")
    with beam.Pipeline(options=flags) as pipeline:
        (
            build(pipeline)
            | "ToJson" >> beam.Map(json.dumps, ensure_ascii=False)
            | "WriteResults"
            >> beam.io.WriteToText(path, shard_name_template="", num_shards=1)
        )
    try:
        with open(path, encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
    finally:
        os.remove(path)
    return sorted(results, key=lambda result: result["index"])


def _csv_pipeline(source, out_dir, options, workers, block_bytes):
    """`build(pipeline)` for a `CsvSource`: count blocks, plan, write shards."""
    beam = _import_beam()
    size = max(source.size - source.data_start, 0)
    blocks = [
        (i, source.data_start + i * block_bytes)
        for i in range(max(1, math.ceil(size / block_bytes)))
    ]

    def build(pipeline):
        return (
            pipeline
            | "Blocks" >> beam.Create(blocks)
            | "CountBlocks" >> beam.Map(_count_block, source, block_bytes)
            | "AllCounts" >> beam.combiners.ToList()
            | "PlanShards" >> beam.FlatMap(_shard_tasks, source, options["shard_size"])
            # One task per shard, spread over the workers (not fused in one).
            | "Spread" >> beam.Reshuffle()
            | "WriteShards"
            >> beam.Map(_csv_shard, source, os.path.abspath(out_dir), options, workers)
        )

    return build


def _chunk_pipeline(chunks, out_dir, options, workers):
    """`build(pipeline)` for chunks read in the driver: write each as a shard."""
    beam = _import_beam()

    def build(pipeline):
        return (
            pipeline
            | "Chunks" >> beam.Create(chunks)
            | "Spread" >> beam.Reshuffle()
            | "WriteShards"
            >> beam.Map(_chunk_shard, os.path.abspath(out_dir), options, workers)
        )

    return build


def _read_chunks(examples, options, log):
    """`(chunks, readers)`: `(index, name, examples)` per shard, and the skips
    `log` got while each was read (one more list: those after the last).

    The entries are taken back out of `log` (they were printed already):
    `_merge` puts them back in the local converter's order.
    """
    before = len(log.entries)
    chunks, readers, mark = [], [], before
    named = _named_chunks(
        examples, options["split"], options["shard_size"], options["compression"]
    )
    for index, (name, chunk) in enumerate(named):
        chunks.append((index, name, chunk))
        readers.append(log.entries[mark:])
        mark = len(log.entries)
    readers.append(log.entries[mark:])
    del log.entries[before:]
    return chunks, readers


def _merge(results, log, readers=None):
    """`(shards, seen)` as `_write_shards` gives them; the skips go to `log`.

    In the local converter's order: for each shard, the reader's skips met
    while reading it, then its own; last, the reader's skips after the
    last record. `readers` are reader skips `log` has seen already.
    """
    shards, seen = [], 0
    for result in results:
        if readers is not None:
            log.entries.extend(readers[result["index"]])
        else:
            for entry in result["reader_skipped"]:
                log(entry["source"], entry["reason"])
        if result["shard"] is not None:
            for entry in result["shard"]["skipped"]:
                log(entry["source"], entry["reason"])
            shards.append(result["shard"])
        seen += result["records"]
    if readers is not None and len(readers) > len(results):
        log.entries.extend(readers[len(results)])
    return shards, seen


def _check_finished_shards(out_dir, options):
    """Raises, before any work, when `out_dir` holds shards of other options.

    The local converter finds them shard by shard; in a pipeline the error
    would come wrapped in the runner's, after other shards were written.
    """
    suffix = r"\.tfrecord" + (r"\.gz" if options["compression"] else "")
    shard = re.compile(re.escape(options["split"]) + r"-\d{5}" + suffix)
    for name in sorted(os.listdir(out_dir)):
        if shard.fullmatch(name):
            _finished_shard(out_dir, name, options)


def _shard_name(split, index, compression):
    """The shard's file name, as `vlpk.data.shards.convert._named_chunks` names it."""
    return f"{split}-{index:05d}.tfrecord" + (".gz" if compression else "")


def _write_or_keep(examples, out_dir, name, options, workers, log):
    """The shard's sidecar: a finished one of the same options, or a new one."""
    shard = _finished_shard(out_dir, name, options)
    if shard is not None:
        return shard
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        return _write_shard(pool, examples, out_dir, name, options, log)


def _chunk_shard(chunk, out_dir, options, workers):
    """Writes one chunk read in the driver; returns its result for `_merge`."""
    index, name, examples = chunk
    shard = _write_or_keep(examples, out_dir, name, options, workers, SkipLog())
    return {"index": index, "records": len(examples), "shard": shard}


def _csv_shard(task, source, out_dir, options, workers):
    """Reads one shard's rows of a `CsvSource` and writes them (or keeps the
    finished shard); returns its result for `_merge`.

    The tail task (past the last shard) only collects the reader's skips
    after the last record.
    """
    index, is_shard = task[0], task[-1]
    log = SkipLog()  # never strict here: `_merge` replays it in order
    examples = _read_task(source, task, options["shard_size"], log)
    reader_skipped = list(log.entries)
    shard = None
    if is_shard:
        name = _shard_name(options["split"], index, options["compression"])
        shard = _write_or_keep(examples, out_dir, name, options, workers, log)
    return {
        "index": index,
        "records": len(examples),
        "reader_skipped": reader_skipped,
        "shard": shard,
    }


def _block_bytes(source, shard_size, sample=1000):
    """About one shard's worth of bytes, from the first `sample` data lines.

    A shard task may parse up to one block before its first row, so blocks
    of about a shard keep that to about one more read of the file.
    """
    with open(source.path, "rb") as f:
        f.seek(source.data_start)
        lengths = [len(line) for _, line in zip(range(sample), f)]
    mean = sum(lengths) / len(lengths) if lengths else 1
    return int(min(max(mean * shard_size, _MIN_BLOCK), _MAX_BLOCK))


def _lines(f, source, start, end=None):
    """The raw lines of `f` that start at byte `start` or later (and before
    `end`, when given): a line belongs to the block its first byte is in.
    """
    if start > source.data_start:
        f.seek(start - 1)
        f.readline()  # the end of a line that starts in the block before
    else:
        f.seek(source.data_start)
    while end is None or f.tell() < end:
        raw = f.readline()
        if not raw:
            return
        yield raw


def _example(source, row, raw, report):
    """The `Example` of data line `row` (0-based), or `None` to skip it.

    The loop body of `vlpk.data.formats.web_pairs.iter_caption_pairs`, which reads a
    file only from its start: same checks, same reasons and sources.
    """
    where = f"{source.path}: line {row + 2}"
    fields = _row_fields(raw, where, source.delimiter, source.width, report)
    if fields is None:
        return None
    image = fields[source.image_at].strip()
    caption = fields[source.caption_at].strip()
    if not image:
        report_or_raise(report, where, "empty image path")
        return None
    if not caption:
        report_or_raise(report, where, "empty caption")
        return None
    return Example(os.path.join(source.images_dir, image), row, (caption,))


def _ignore(source, reason):
    """A `report` that drops the skip: another task reports it."""


def _count_block(block, source, block_bytes):
    """`(index, start, lines, records)` of one block of the data bytes."""
    index, start = block
    lines = records = 0
    with open(source.path, "rb") as f:
        for raw in _lines(f, source, start, start + block_bytes):
            lines += 1
            records += _example(source, 0, raw, _ignore) is not None
    return index, start, lines, records


def _shard_tasks(counts, source, shard_size):
    """Yields `(index, start, first_row, passed, is_shard)` per shard task.

    Task `k` reads from the block that holds record `k * shard_size - 1`
    (the previous shard's last), passes the records up to it, then reports
    the reader's skips and collects the next `shard_size` records: the
    local converter logs the skips between two shards' records with the
    second. When the last shard is full, one more task (`is_shard` false)
    collects the skips after the last record, which the local converter
    logs once its reader is exhausted.
    """
    counts = sorted(counts)
    starts = [start for _, start, _, _ in counts]
    lines_before, records_before, lines, records = [], [], 0, 0
    for _, _, block_lines, block_records in counts:
        lines_before.append(lines)
        records_before.append(records)
        lines, records = lines + block_lines, records + block_records
    tasks = math.ceil(records / shard_size) + (records % shard_size == 0)
    for index in range(tasks):
        last = index * shard_size - 1
        is_shard = index * shard_size < records
        if last < 0:
            yield index, source.data_start, 0, 0, is_shard
            continue
        block = bisect.bisect_right(records_before, last) - 1
        passed = last - records_before[block] + 1
        yield index, starts[block], lines_before[block], passed, is_shard


def _read_task(source, task, shard_size, log):
    """The records of one shard task; the reader's skips go to `log`."""
    _, start, row, passed, _ = task
    examples = []
    with open(source.path, "rb") as f:
        for row, raw in enumerate(_lines(f, source, start), row):
            # Skips before the previous shard's last record are its task's.
            example = _example(source, row, raw, _ignore if passed else log)
            if example is None:
                continue
            if passed:
                passed -= 1
                continue
            examples.append(example)
            if len(examples) == shard_size:
                break
    return examples
