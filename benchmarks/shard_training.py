"""Training from shards against training from files in memory, and shard memory.

Two questions about `vlpk pretrain --set data.train=SHARDS`:

1. **Throughput.** The quickstart's dual encoder (`shapes_tiny`) trains
   `--steps` steps with `model.fit` on `pretraining_dataset` fed either a
   list of Shapes `Example`s (images read from PNG files) or the same
   split converted to shards (`ShardSplit`, streamed). Both shuffle. The
   rate is taken from the steady steps (after the first), each arm in a
   fresh process, `--repeats` times alternating the order; the ratio is
   shards / memory per repeat.
2. **Memory.** The shard pipeline alone (decode, pair, tokenize, batch;
   no model) is iterated over one epoch of a set of `--pairs-small` and of
   `--pairs-large` pairs. The large set repeats the small set's records
   with new image ids (`write_repeated`), so only its length differs. Peak
   resident memory is read after the epoch.

    python benchmarks/shard_training.py                       # ~6 min
    python benchmarks/shard_training.py \
        --json benchmarks/results/shard_training_run2.json
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402

ARMS = ("memory", "shards")


def prepare(root, images):
    """Shapes `train` as files and as shards; a 10x longer shard set."""
    from vlpk.data.shards.convert import convert_examples
    from vlpk.data.synthetic import read_shapes, write_shapes

    write_shapes(
        os.path.join(root, "shapes"),
        image_size=64,
        splits={"train": images},
        progress=False,
    )
    examples = read_shapes(os.path.join(root, "shapes"), "train")
    convert_examples(examples, os.path.join(root, "shards"), split="train", verbose=0)
    write_repeated(os.path.join(root, "shards"), os.path.join(root, "shards_x10"), 10)


def write_repeated(source, out, times):
    """`source`'s records `times` over, image ids shifted, with a manifest."""
    import tensorflow as tf

    from vlpk.data.shards.reading import shard_files

    os.makedirs(out, exist_ok=True)
    records = [r.numpy() for r in tf.data.TFRecordDataset(shard_files(source))]
    with open(os.path.join(source, "manifest.json")) as f:
        manifest = json.load(f)
    shards = []
    for copy in range(times):
        name = f"train-{copy:05d}.tfrecord"
        with tf.io.TFRecordWriter(os.path.join(out, name)) as writer:
            for record in records:
                example = tf.train.Example.FromString(record)
                ids = example.features.feature["image_id"].int64_list
                ids.value[0] += copy * 10**6
                writer.write(example.SerializeToString())
        shards.append({"file": name, "examples": len(records)})
    manifest.update(
        shards=shards,
        examples=manifest["examples"] * times,
        captions=manifest["captions"] * times,
    )
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def inputs(root):
    from vlpk.config import PretrainConfig
    from vlpk.data import ImagePreprocessor
    from vlpk.data.synthetic import read_shapes
    from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

    config = PretrainConfig()
    examples = read_shapes(os.path.join(root, "shapes"), "train")
    vocab = learn_vocabulary([c for e in examples for c in e.captions], 1000)
    text = TextPreprocessor(wordpiece_tokenizer(vocab), config.text.sequence_length)
    return config, examples, ImagePreprocessor(config.image.size), text, len(vocab)


def run_fit(arm, root, steps):
    """One arm: steady steps/s of `fit` on the shapes_tiny dual encoder."""
    import keras

    from vlpk.data.pipelines.pretraining import pretraining_dataset
    from vlpk.data.shards.shard_splits import ShardSplit
    from vlpk.jobs.recipes import build_model, compile_for_pretraining

    config, examples, image_pre, text_pre, vocabulary = inputs(root)
    source = (
        examples if arm == "memory" else ShardSplit.open(os.path.join(root, "shards"))
    )
    batch = config.optimization.batch_size
    ds = pretraining_dataset(source, image_pre, text_pre, batch_size=batch, repeat=True)
    keras.utils.set_random_seed(0)
    model = build_model(config, vocabulary)
    compile_for_pretraining(model, config, steps)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[Clock()])
    return {"steps_per_s": (len(times) - 1) / (times[-1] - times[0])}


def run_stream(root, folder):
    """Peak RSS after one epoch of the shard pipeline over `folder`."""
    from vlpk.data.pipelines.pretraining import pretraining_dataset
    from vlpk.data.shards.shard_splits import ShardSplit

    _, _, image_pre, text_pre, _ = inputs(root)
    split = ShardSplit.open(os.path.join(root, folder))
    start = time.perf_counter()
    batches = sum(1 for _ in pretraining_dataset(split, image_pre, text_pre))
    return {
        "pairs": split.captions,
        "batches": batches,
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args, *extra):
    command = [sys.executable, __file__, "--root", args.root, *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="Shapes train images")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--arm", help=argparse.SUPPRESS)
    parser.add_argument("--json", default="benchmarks/results/shard_training.json")
    args = parser.parse_args(argv)
    if args.arm:  # a child process
        if args.arm.startswith("stream:"):
            result = run_stream(args.root, args.arm.split(":", 1)[1])
        else:
            result = run_fit(args.arm, args.root, args.steps)
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory() as root:
        args.root = root
        prepare(root, args.images)
        return report(args)


def report(args):
    runs = {arm: [] for arm in ARMS}
    for repeat in range(args.repeats):
        for arm in ARMS if repeat % 2 == 0 else ARMS[::-1]:
            runs[arm].append(child(args, "--arm", arm, "--steps", str(args.steps)))
            print(f"  repeat {repeat + 1} {arm}: {runs[arm][-1]}", file=sys.stderr)
    ratios = [
        s["steps_per_s"] / m["steps_per_s"]
        for s, m in zip(runs["shards"], runs["memory"])
    ]
    streams = {
        folder: child(args, "--arm", f"stream:{folder}")
        for folder in ("shards", "shards_x10")
    }
    result = {
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("root", "arm")},
        "fit": runs,
        "shards_over_memory": ratios,
        "median_ratio": statistics.median(ratios),
        "streams": streams,
    }
    print(
        f"fit steps/s, medians of {args.repeats}: memory "
        f"{statistics.median(r['steps_per_s'] for r in runs['memory']):.2f}, shards "
        f"{statistics.median(r['steps_per_s'] for r in runs['shards']):.2f}; shards / "
        f"memory per repeat {[round(r, 3) for r in ratios]}, median "
        f"{result['median_ratio']:.3f}"
    )
    for folder, s in streams.items():
        print(
            f"stream {folder}: {s['pairs']} pairs, {s['batches']} batches, "
            f"{s['seconds']:.1f} s, peak RSS {s['peak_rss_mb']:.0f} MB"
        )
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
