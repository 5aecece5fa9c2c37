"""Runs a Beam pipeline for the Beam converter and brings its results back.

Apache Beam is an optional extra (`pip install "vlpk[beam]"`), so it is
imported only when a pipeline is built: `import_beam` says how to install
it when it is missing. The results come back through a file in the output
folder, which every worker can write, so that any runner works, not only
the in-process `DirectRunner`.
"""

import json
import os
import shlex
import uuid

from vlpk.errors import InputError

BEAM_MISSING = 'the Beam runner needs Apache Beam: pip install "vlpk[beam]"'


def import_beam():
    """The `apache_beam` module, or an `InputError` saying how to install it."""
    try:
        import apache_beam
    except ImportError:
        raise InputError(BEAM_MISSING) from None
    return apache_beam


def pipeline_flags(runner, pipeline_options):
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


def run_pipeline(out_dir, flags, build):
    """Runs `build(pipeline)`'s results through Beam; returns them, in order.

    The results come back through a file in `out_dir` (every worker can
    write there), so that this works on any runner, not only in-process.
    """
    beam = import_beam()
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
