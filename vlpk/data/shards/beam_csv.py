"""The Beam converter's CSV/TSV of pairs (`CsvSource`), read in the pipeline.

The driver reads only the header. The data bytes are cut into blocks
(about one shard's worth each); one task per block counts its lines and
good rows, then one task per shard seeks to the block that holds its first
row and reads only its rows. Memory is one shard per task, and the driver
and the runner hold only per-block counts, shard descriptions and skip
entries. Each row is parsed two or three times (counting, plus at most a
block skipped to reach a shard's start).

Each line is parsed by `vlpk.data.formats.web_pairs.parse_row`, the same
function `iter_caption_pairs` calls (which itself can only read a file
from its start): same checks, same skip reasons and sources, same image
ids. A quoted field may not span a line break, as there.
"""

import bisect
import dataclasses
import math
import os

from vlpk.data.formats.web_pairs import PairsLayout, parse_row, read_layout, read_row
from vlpk.data.records.example import Example
from vlpk.data.shards.beam_pipeline import import_beam
from vlpk.data.shards.beam_shards import shard_name, write_or_keep
from vlpk.data.shards.convert import SkipLog

_MIN_BLOCK, _MAX_BLOCK = 1 << 16, 1 << 26


@dataclasses.dataclass(frozen=True)
class CsvSource(PairsLayout):
    """A CSV/TSV of (image path, caption) pairs, to read in a Beam pipeline.

    Build it with `csv_source`, which checks the file and its header.

    Args:
        path, images_dir, delimiter, width, image_at, caption_at, data_start:
            where the fields are, as in `vlpk.data.formats.web_pairs.PairsLayout`.
        size: the file's size in bytes.
    """

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
    >>> from vlpk.data.shards.convert_beam import convert_examples_beam
    >>> source = csv_source(tsv, images)
    >>> manifest = convert_examples_beam(
    ...     source, os.path.join(paths["root"], "shards"), verbose=0)
    >>> manifest["examples"], manifest["captions"]
    (2, 2)
    """
    layout = read_layout(path, images_dir, delimiter, image_column, caption_column)
    return CsvSource(**dataclasses.asdict(layout), size=os.path.getsize(layout.path))


def default_block_bytes(source, shard_size, sample=1000):
    """About one shard's worth of bytes, from the first `sample` data lines.

    A shard task may parse up to one block before its first row, so blocks
    of about a shard keep that to about one more read of the file.
    """
    with open(source.path, "rb") as f:
        f.seek(source.data_start)
        lengths = [len(line) for _, line in zip(range(sample), f)]
    mean = sum(lengths) / len(lengths) if lengths else 1
    return int(min(max(mean * shard_size, _MIN_BLOCK), _MAX_BLOCK))


def csv_pipeline(source, out_dir, options, workers, block_bytes):
    """`build(pipeline)` for a `CsvSource`: count blocks, plan, write shards."""
    beam = import_beam()
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


def _csv_shard(task, source, out_dir, options, workers):
    """Reads one shard's rows of a `CsvSource` and writes them (or keeps the
    finished shard); returns its result for `merge_results`.

    The tail task (past the last shard) only collects the reader's skips
    after the last record.
    """
    index, is_shard = task[0], task[-1]
    log = SkipLog()  # never strict here: `merge_results` replays it in order
    examples = _read_task(source, task, options["shard_size"], log)
    reader_skipped = list(log.entries)
    shard = None
    if is_shard:
        name = shard_name(options["split"], index, options["compression"])
        shard = write_or_keep(examples, out_dir, name, options, workers, log)
    return {
        "index": index,
        "records": len(examples),
        "reader_skipped": reader_skipped,
        "shard": shard,
    }


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


def _ignore(source, reason):
    """A `report` that drops the skip: another task reports it."""


def _count_block(block, source, block_bytes):
    """`(index, start, lines, records)` of one block of the data bytes."""
    index, start = block
    lines = records = 0
    with open(source.path, "rb") as f:
        for raw in _lines(f, source, start, start + block_bytes):
            lines += 1
            # The row index only names the record, which is not kept here.
            records += isinstance(parse_row(source, 0, raw), Example)
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
            example = read_row(source, row, raw, _ignore if passed else log)
            if example is None:
                continue
            if passed:
                passed -= 1
                continue
            examples.append(example)
            if len(examples) == shard_size:
                break
    return examples
