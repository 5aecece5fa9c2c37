"""The Beam converter's input read in the driver: any iterable of `Example`s.

COCO, Flickr, LLaVA, labelled folders...: the driver reads the examples
with their reader and hands the chunks (one a shard) to the pipeline, so
they are all held in the driver's memory at once (those readers hold their
JSON in memory already). The reader's skips are kept in the driver and put
back in order by `vlpk.data.shards.beam_shards.merge_results`.
"""

import os

from vlpk.data.shards.beam_pipeline import import_beam
from vlpk.data.shards.beam_shards import write_or_keep
from vlpk.data.shards.convert import SkipLog, _named_chunks


def read_chunks(examples, options, log):
    """`(chunks, readers)`: `(index, name, examples)` per shard, and the skips
    `log` got while each was read (one more list: those after the last).

    The entries are taken back out of `log` (they were printed already):
    `merge_results` puts them back in the local converter's order.
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


def chunk_pipeline(chunks, out_dir, options, workers):
    """`build(pipeline)` for chunks read in the driver: write each as a shard."""
    beam = import_beam()

    def build(pipeline):
        return (
            pipeline
            | "Chunks" >> beam.Create(chunks)
            | "Spread" >> beam.Reshuffle()
            | "WriteShards"
            >> beam.Map(_chunk_shard, os.path.abspath(out_dir), options, workers)
        )

    return build


def _chunk_shard(chunk, out_dir, options, workers):
    """Writes one chunk read in the driver; returns its result for the merge."""
    index, name, examples = chunk
    shard = write_or_keep(examples, out_dir, name, options, workers, SkipLog())
    return {"index": index, "records": len(examples), "shard": shard}
