"""Serving latency: SavedModel signatures and TFLite encoders against Keras.

Exports a run folder once, into a temporary directory: the TF Serving
SavedModel of `vlpk export` (`vlpk.jobs.export.export_task`, the run's task
and its `serving_archive()`) and the
TFLite float32 and int8 encoders (`vlpk.export.tflite.export_tflite`; int8 is
calibrated on the first 200 training examples). Then it measures the p50 and
p99 latency of one call, at batch 1 and batch 32 (`--batch-sizes`), of:

- each SavedModel signature (`embed_image`, `embed_text`, `score`,
  `serving_default` for a pretraining run), loaded with `tf.saved_model.load`
  and called as TF Serving calls it, `loaded.signatures[name](image_bytes=...,
  text=...)`, on the JPEG bytes of the run's test split and their first
  captions;
- the direct call of the Keras backbone that computes the same thing
  (`Keras`): the task's preprocessor (`preprocess_images` /
  `preprocess_text`) on the same bytes and strings, then the backbone's
  `get_image_embeddings` / `get_text_embeddings` called eagerly (inference:
  no `training` argument), and for `score` the dot product of the two
  embeddings, as the signature does. The same Keras computation wrapped in
  one `tf.function` is timed too (`Keras tf.function`): the graph without
  the SavedModel;
- the TFLite `image_encoder` and `text_encoder` of each variant on
  `ai_edge_litert` (`vlpk.export.tflite.interpreter_runner`, its default
  threads), on the pixels and token ids a host prepares (preprocessing is not
  in these files, so it is not timed), against the backbone's eager
  embeddings of the same arrays. int8 leaves the L2 normalization to the
  host: it is part of each timed int8 call. The files are exported with a
  batch of 1; batch 32 calls the signature runner with `[32, ...]` inputs (it
  resizes the input tensors and allocates), checked against 32 single calls.
  Where that fails or differs, 32 back-to-back batch-1 calls are timed
  instead, and the row says so (`batching`).

Every callable is warmed up (`--warmup` calls); then the callables of one row
(SavedModel, Keras, Keras tf.function; or Keras, float32, int8) are called in
turn, `--calls` times each, starting from a different one each round, so noise
from other processes hits all of them alike. Each timed call includes turning
its outputs into NumPy arrays. The ratio is the SavedModel (or TFLite) p50
over the eager Keras p50. With 50 calls, p99 is close to the slowest call.

    python benchmarks/serving_latency.py                       # ~4 min, 2 cores
    python benchmarks/serving_latency.py --from runs/albef --calls 20,5

`--from` is the `--workdir` of a `vlpk pretrain` run (a pretraining or
retrieval run: the TFLite export covers the encoders). Without it, the
`shapes_albef` config is pretrained for one epoch into a temporary folder
first (about 1.5 min): latency depends on the architecture, not on how well
the weights are trained. `benchmarks/` is not a
package: run the file, from the repository root. Prints two markdown tables
and writes `benchmarks/results/serving_latency.json` (`--json`): the machine,
the settings and every row.
"""

import argparse
import gc
import json
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402

# The Keras computation behind each signature, found by its outputs.
IMAGE, TEXT, SCORE = "image_embedding", "text_embedding", "score"
TFLITE_MODELS = {"image_encoder": IMAGE, "text_encoder": TEXT}


def latency_stats(seconds):
    """`{"calls", "p50_ms", "p99_ms", "mean_ms", "min_ms", "max_ms"}` of call
    durations in seconds (NumPy's linear-interpolation percentiles)."""
    ms = 1000.0 * np.asarray(seconds, np.float64)
    if ms.size == 0:
        raise ValueError("No timings.")
    p50, p99 = np.percentile(ms, [50, 99])
    return {
        "calls": int(ms.size),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
    }


def time_interleaved(callables, calls, warmup=5):
    """Times `callables` (`{name: f}`, `f()` takes no argument) in turn.

    Each is called `warmup` times first, untimed. Then every round calls each
    once, starting from the next one round after round, `calls` rounds.

    Returns:
        `{name: latency_stats(...)}`.
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}.")
    names = list(callables)
    for name in names:
        for _ in range(warmup):
            callables[name]()
    times = {name: [] for name in names}
    gc.collect()
    for i in range(calls):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            callables[name]()
            times[name].append(time.perf_counter() - start)
    return {name: latency_stats(t) for name, t in times.items()}


def numpy_outputs(outputs):
    """`{name: np.ndarray}` of a signature's (or Keras's) output dict."""
    return {k: np.asarray(v) for k, v in outputs.items()}


def keras_functions(backbone, preprocessor):
    """`{output names: f}`: what each serving signature computes, in Keras.

    The same computation as the task's signatures
    (`vlpk.models.signatures.contrastive_signatures`): the task's
    preprocessor, then the backbone's embedding methods; `score` is the dot
    product of the (L2-normalized) embeddings, the cosine.
    """

    def embed_image(image_bytes):
        images = preprocessor.preprocess_images(image_bytes)
        return {IMAGE: backbone.get_image_embeddings(images)}

    def embed_text(text):
        inputs = preprocessor.preprocess_text(text)
        return {TEXT: backbone.get_text_embeddings(**inputs)}

    def score(image_bytes, text):
        image = embed_image(image_bytes)[IMAGE]
        text = embed_text(text)[TEXT]
        return {SCORE: tf.reduce_sum(image * text, axis=-1)}

    return {
        frozenset([IMAGE]): embed_image,
        frozenset([TEXT]): embed_text,
        frozenset([SCORE]): score,
    }


def saved_model_rows(
    path,
    backbone,
    preprocessor,
    image_bytes,
    texts,
    batch_sizes,
    calls,
    warmup=5,
    log=print,
):
    """Latency rows of every signature of the SavedModel at `path`.

    Args:
        path: a SavedModel written by `vlpk export`.
        backbone: the backbone of the task it was exported from.
        preprocessor: that task's preprocessor.
        image_bytes: encoded images (`bytes`), at least `max(batch_sizes)`.
        texts: strings, as many.
        batch_sizes: the batch sizes to time.
        calls: `{batch size: timed calls}`.
        warmup: untimed calls per callable first.
        log: `print`-like, for progress.

    Returns:
        One dict per signature and batch size: the SavedModel, Keras (eager)
        and Keras tf.function latencies (`None` for a signature without a
        Keras equivalent here, e.g. `caption`), the p50 ratio and the largest
        difference of the outputs.
    """
    loaded = tf.saved_model.load(path)
    equivalents = keras_functions(backbone, preprocessor)
    rows = []
    for name in sorted(loaded.signatures):
        signature = loaded.signatures[name]
        input_names = sorted(signature.structured_input_signature[1])
        keras_fn = equivalents.get(frozenset(signature.structured_outputs))
        for batch in batch_sizes:
            values = {"image_bytes": list(image_bytes[:batch]), "text": texts[:batch]}
            if any(len(values[k]) < batch for k in input_names):
                raise ValueError(f"Fewer than {batch} inputs for {name}.")
            inputs = {k: tf.constant(values[k]) for k in input_names}
            callables = {
                "saved_model": lambda s=signature, x=inputs: numpy_outputs(s(**x))
            }
            difference = None
            if keras_fn is not None:
                graph_fn = tf.function(keras_fn)
                callables["keras"] = lambda f=keras_fn, x=inputs: numpy_outputs(f(**x))
                callables["keras_tf_function"] = lambda f=graph_fn, x=inputs: (
                    numpy_outputs(f(**x))
                )
                served, direct = callables["saved_model"](), callables["keras"]()
                difference = max(
                    float(np.abs(served[k] - direct[k]).max()) for k in direct
                )
            stats = time_interleaved(callables, calls[batch], warmup)
            row = {
                "signature": name,
                "batch": batch,
                "inputs": input_names,
                "saved_model": stats["saved_model"],
                "keras": stats.get("keras"),
                "keras_tf_function": stats.get("keras_tf_function"),
                "ratio_p50": (
                    stats["saved_model"]["p50_ms"] / stats["keras"]["p50_ms"]
                    if "keras" in stats
                    else None
                ),
                "max_abs_difference": difference,
            }
            rows.append(row)
            log(f"{name} batch {batch}: {_brief(row)}", flush=True)
    return rows


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def tflite_callable(path, inputs, output, normalize=False):
    """`(f, batching, check)`: a no-argument call of the `.tflite` at `path`
    on `inputs` (`{name: array}`, batch first) returning `output`.

    A batch above 1 is first tried as one call of the signature runner with
    the whole batch (it resizes the inputs); the result is compared with one
    call per example. If that fails or differs, `f` makes one batch-1 call
    per example. `normalize` L2-normalizes on the host (int8 files).
    """
    host = _unit if normalize else (lambda x: x)
    batch = len(next(iter(inputs.values())))
    single = _runner(path)
    if batch == 1:
        return (lambda: host(single(**inputs)[output])), "batch 1", None
    slices = [{k: v[i : i + 1] for k, v in inputs.items()} for i in range(batch)]

    def one_by_one():
        return host(np.concatenate([single(**x)[output] for x in slices]))

    expected = one_by_one()
    check = {"compared_with": f"{batch} batch-1 calls"}
    try:
        batched = _runner(path)
        got = host(batched(**inputs)[output])
    except Exception as error:  # any failure to resize or run: fall back
        check["error"] = f"{type(error).__name__}: {error}"
        got = None
    if got is not None and got.shape == expected.shape:
        check["max_abs_difference"] = float(np.abs(got - expected).max())
        scale = max(1.0, float(np.abs(expected).max()))
        if np.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale):
            batching = f"resized to [{batch}, ...], one call"
            return (lambda: host(batched(**inputs)[output])), batching, check
    elif got is not None:
        check["error"] = f"shape {got.shape}, expected {expected.shape}"
    return one_by_one, f"{batch} back-to-back batch-1 calls", check


def _runner(path):
    from vlpk.export.tflite import interpreter_runner

    return interpreter_runner(path)


def tflite_rows(
    exports,
    backbone,
    images,
    token_ids,
    padding_mask,
    batch_sizes,
    calls,
    warmup=5,
    log=print,
):
    """Latency rows of the TFLite encoders of each variant, with Keras.

    Args:
        exports: `{variant: folder}` written by `export_tflite`.
        backbone: the backbone they were exported from.
        images: float32 pixels `[N, H, W, 3]` (0-255, resized).
        token_ids, padding_mask: int32 `[N, T]`.
        batch_sizes, calls, warmup, log: as in `saved_model_rows`.

    Returns:
        One dict per model, batch size and variant.
    """
    embedders = {
        IMAGE: backbone.get_image_embeddings,
        TEXT: lambda x: backbone.get_text_embeddings(**x),
    }
    manifests = {}
    for variant, folder in exports.items():
        with open(os.path.join(folder, "tflite.json")) as f:
            manifests[variant] = json.load(f)
    rows = []
    for name, output in TFLITE_MODELS.items():
        for batch in batch_sizes:
            if output == IMAGE:
                inputs = {"images": np.ascontiguousarray(images[:batch], np.float32)}
                keras_inputs = tf.constant(inputs["images"])
            else:
                inputs = {
                    "token_ids": np.ascontiguousarray(token_ids[:batch], np.int32),
                    "padding_mask": np.ascontiguousarray(
                        padding_mask[:batch], np.int32
                    ),
                }
                keras_inputs = {k: tf.constant(v) for k, v in inputs.items()}
            embedder = embedders[output]
            callables = {"keras": lambda e=embedder, x=keras_inputs: np.asarray(e(x))}
            batching, checks = {}, {}
            for variant, folder in exports.items():
                normalize = not manifests[variant].get("normalized", True)
                fn, batching[variant], checks[variant] = tflite_callable(
                    os.path.join(folder, f"{name}.tflite"), inputs, output, normalize
                )
                callables[variant] = fn
            stats = time_interleaved(callables, calls[batch], warmup)
            for variant in exports:
                row = {
                    "variant": variant,
                    "model": name,
                    "batch": batch,
                    "batching": batching[variant],
                    "batch_check": checks[variant],
                    "tflite": stats[variant],
                    "keras": stats["keras"],
                    "ratio_p50": stats[variant]["p50_ms"] / stats["keras"]["p50_ms"],
                    "host_l2_normalization": not manifests[variant].get(
                        "normalized", True
                    ),
                }
                rows.append(row)
                log(f"{variant} {name} batch {batch}: {_brief(row)}", flush=True)
    return rows


def _brief(row):
    parts = []
    for key in ("saved_model", "tflite", "keras", "keras_tf_function"):
        if row.get(key):
            parts.append(f"{key} {_p(row[key])}")
    return ", ".join(parts)


def _p(stats):
    if not stats:
        return "—"
    return f"{stats['p50_ms']:.2f} / {stats['p99_ms']:.2f}"


def _ratio(value):
    return "—" if value is None else f"{value:.2f}"


def markdown_tables(result):
    """The two tables (SavedModel, TFLite) of a result, as markdown lines."""
    lines = [
        "| signature | batch | SavedModel p50 / p99 ms | Keras p50 / p99 ms "
        "| ratio | Keras tf.function p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["saved_model_rows"]:
        lines.append(
            f"| {r['signature']} | {r['batch']} | {_p(r['saved_model'])} | "
            f"{_p(r['keras'])} | {_ratio(r['ratio_p50'])} | "
            f"{_p(r['keras_tf_function'])} |"
        )
    if result["tflite_rows"]:
        lines += [
            "",
            "| variant | model | batch | TFLite p50 / p99 ms | Keras p50 / p99 ms "
            "| ratio | batching |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in result["tflite_rows"]:
            lines.append(
                f"| {r['variant']} | {r['model']} | {r['batch']} | "
                f"{_p(r['tflite'])} | {_p(r['keras'])} | "
                f"{_ratio(r['ratio_p50'])} | {r['batching']} |"
            )
    return lines


def parse_calls(text, batch_sizes):
    """`{batch size: calls}` from `"200,50"` (one per batch size) or `"100"`."""
    values = [int(v) for v in text.split(",") if v.strip()]
    if len(values) == 1:
        values = values * len(batch_sizes)
    if len(values) != len(batch_sizes) or min(values) < 1:
        raise SystemExit(
            f"--calls needs one positive count, or one per batch size "
            f"({len(batch_sizes)}); got {text!r}."
        )
    return dict(zip(batch_sizes, values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from",
        dest="source",
        default=None,
        help="a run folder (a `vlpk pretrain` --workdir); default: pretrain "
        "shapes_albef for one epoch in a temporary folder",
    )
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument(
        "--calls",
        default="200,50",
        help="timed calls per callable, one per batch size or one for all",
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--variants", default="float32,int8", help="TFLite variants; '' for none"
    )
    parser.add_argument("--json", default="benchmarks/results/serving_latency.json")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    calls = parse_calls(args.calls, batch_sizes)
    variants = [v for v in args.variants.split(",") if v.strip()]
    scratch = None
    if args.source is None:
        scratch = tempfile.TemporaryDirectory(prefix="serving_latency_run-")
        args.source = one_epoch_run(scratch.name)
    elif not os.path.isfile(os.path.join(args.source, "config.json")):
        raise SystemExit(
            f"No vlpk run folder at {args.source!r}: pass the --workdir of a "
            "`vlpk pretrain` run, or leave --from out to train a one-epoch "
            "shapes_albef run first."
        )
    try:
        run_benchmark(args, batch_sizes, calls, variants)
    finally:
        if scratch is not None:
            scratch.cleanup()


def one_epoch_run(folder):
    """Pretrains `training/configs/shapes_albef.py` for one epoch in `folder`."""
    from vlpk.config import load_config
    from vlpk.jobs.pretrain import run_pretrain

    config = load_config("training/configs/shapes_albef.py")
    config = config.replace(optimization={"epochs": 1})
    print("no --from: pretraining shapes_albef for one epoch first", flush=True)
    workdir = os.path.join(folder, "run")
    run_pretrain(
        config, workdir=workdir, export_root=os.path.join(folder, "saved"), verbose=0
    )
    return workdir


def run_benchmark(args, batch_sizes, calls, variants):

    from vlpk.export.tflite import export_tflite
    from vlpk.jobs.export import export_task
    from vlpk.jobs.run_dir import load_run

    started = time.perf_counter()
    run = load_run(args.source)
    task = run.load_task()
    backbone, preprocessor = task.backbone, task.preprocessor
    if not hasattr(backbone, "get_text_embeddings"):
        raise SystemExit(
            f"{args.source} holds a {type(backbone).__name__}; this benchmark "
            "times the embedding signatures of a pretraining or retrieval run."
        )
    train, val, test = run.splits()
    largest = max(batch_sizes)
    if len(test) < largest:
        raise SystemExit(f"The test split has {len(test)} examples, < {largest}.")
    test = test[:largest]
    image_bytes = [open(e.image_path, "rb").read() for e in test]
    texts = [e.captions[0] for e in test]
    images = preprocessor.preprocess_images(tf.constant(image_bytes))
    images = np.asarray(images, np.float32)
    text = preprocessor.preprocess_text(tf.constant(texts))
    token_ids = np.asarray(text["token_ids"], np.int32)
    padding_mask = np.asarray(text["padding_mask"], np.int32)
    export_seconds = {}
    with tempfile.TemporaryDirectory(prefix="serving_latency-") as tmp:
        start = time.perf_counter()
        path, signatures = export_task(args.source, "serving_latency", tmp)
        export_seconds["saved_model"] = time.perf_counter() - start
        print(f"SavedModel signatures: {', '.join(signatures)}", flush=True)
        exports, parity = {}, {}
        vocab = os.path.join(run.run_dir, "vocab.txt")
        for variant in variants:
            start = time.perf_counter()
            folder = os.path.join(tmp, "tflite", variant)
            manifest = export_tflite(
                backbone,
                folder,
                variant,
                run.image_preprocessor,
                run.text_preprocessor,
                vocab if os.path.isfile(vocab) else None,
                calibration_examples=train if variant == "int8" else (),
                overwrite=True,
                parity_examples=val,
            )
            export_seconds[f"tflite_{variant}"] = time.perf_counter() - start
            exports[variant] = folder
            parity[variant] = manifest.get("parity")
            print(f"TFLite {variant}: parity {parity[variant]}", flush=True)
        saved_rows = saved_model_rows(
            path,
            backbone,
            preprocessor,
            image_bytes,
            texts,
            batch_sizes,
            calls,
            args.warmup,
        )
        lite_rows = tflite_rows(
            exports,
            backbone,
            images,
            token_ids,
            padding_mask,
            batch_sizes,
            calls,
            args.warmup,
        )
    result = {
        "benchmark": "serving_latency",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "settings": {
            "source": os.path.abspath(args.source),
            "model": type(task).__name__,
            "backbone": type(backbone).__name__,
            "config": run.config.name,
            "batch_sizes": batch_sizes,
            "calls": {str(b): n for b, n in calls.items()},
            "warmup": args.warmup,
            "variants": variants,
            "inputs": (
                f"the first {largest} test-split JPEGs and their first captions; "
                "batch b uses the first b"
            ),
            "keras": (
                "eager backbone.get_image_embeddings / get_text_embeddings "
                "after the task's preprocessor (direct call); "
                "keras_tf_function: the same in one tf.function"
            ),
            "tflite_keras": (
                "eager backbone.get_image_embeddings / get_text_embeddings on "
                "the same pixels / token ids"
            ),
            "timed_call": "includes converting outputs to NumPy",
            "int8_calibration": "first 200 training examples",
        },
        "signatures": signatures,
        "export_seconds": export_seconds,
        "tflite_parity": parity,
        "saved_model_rows": saved_rows,
        "tflite_rows": lite_rows,
    }
    result["wall_seconds"] = time.perf_counter() - started
    directory = os.path.dirname(args.json)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print()
    print("\n".join(markdown_tables(result)))
    print(f"\n{result['wall_seconds']:.0f} s; wrote {args.json}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
