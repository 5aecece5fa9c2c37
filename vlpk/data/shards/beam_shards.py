"""The Beam converter's shard tasks: write or keep a shard, merge the results.

Each shard is one Beam task that runs the local converter's own per-shard
code (`vlpk.data.shards.convert`: image checks, caption cleaning, the shard
and its sidecar; a finished shard of the same options is kept). Every task
returns a JSON result; `merge_results` puts the skips back in the local
converter's order, so that the manifest is built by the same function.

- Skips are printed when the pipeline has finished, not as they happen.
  With `strict`, every shard is converted before the first bad record (in
  the local converter's order) raises the same `InputError`; the shards
  already written are valid and a later run keeps them.
- A shard of other options already in the output folder stops the run
  before the pipeline starts (`check_finished_shards`), even a stale one
  past this run's last shard (which the local converter would ignore).
- `workers` is the thread pool of each shard task, so a runner that runs
  several tasks at once uses that many threads per task.
"""

import concurrent.futures
import os
import re

from vlpk.data.shards.convert import _finished_shard, _write_shard


def shard_name(split, index, compression):
    """The shard's file name, as `vlpk.data.shards.convert._named_chunks` names it."""
    return f"{split}-{index:05d}.tfrecord" + (".gz" if compression else "")


def write_or_keep(examples, out_dir, name, options, workers, log):
    """The shard's sidecar: a finished one of the same options, or a new one."""
    shard = _finished_shard(out_dir, name, options, examples)
    if shard is not None:
        return shard
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        return _write_shard(pool, examples, out_dir, name, options, log)


def merge_results(results, log, readers=None):
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


def check_finished_shards(out_dir, options):
    """Raises, before any work, when `out_dir` holds shards of other options.

    The local converter finds them shard by shard; in a pipeline the error
    would come wrapped in the runner's, after other shards were written.
    """
    suffix = r"\.tfrecord" + (r"\.gz" if options["compression"] else "")
    shard = re.compile(re.escape(options["split"]) + r"-\d{5}" + suffix)
    for name in sorted(os.listdir(out_dir)):
        if shard.fullmatch(name):
            _finished_shard(out_dir, name, options)
