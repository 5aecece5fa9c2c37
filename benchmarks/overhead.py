"""Training throughput of vlpk against a hand-written Keras baseline, and MFU.

For each config (`shapes_tiny`, the quickstart's small CNN + 2-layer BERT,
and `base`, a ViT + BERT contrastive model sized for a CPU), both arms are
built for the same architecture and trained with `model.fit` in this process
on the same batches (vlpk's Shapes pipeline, `--batches` batches cached in
memory and repeated, so the input pipeline costs nothing to either):

- `vlpk`: `vlpk.jobs.recipes.build_model`, `build_losses` and `build_optimizer`,
  compiled as `vlpk pretrain` compiles them;
- `baseline`: `benchmarks/baseline.py`, a keras.io-style `keras.Model` with
  its own `train_step`, and the same optimizer.

Each repeat runs one `fit` of `--steps` steps of each arm in turn
(alternating which goes first), after an untimed warm-up `fit`; the rate is
taken from the steady steps (the end of the first batch to the end of the
last, read by a callback), the vlpk / baseline ratio per repeat, and the
table gives medians. The whole-`fit` rate is recorded too.

MFU: the model FLOPs of one training step are counted from its XLA HLO
(`benchmarks/flops.py`: every matmul, einsum and convolution, forward and
backward) and divided by vlpk's median step time; the peak is the best
float32 2048x2048 matmul rate measured on the same device in the same run,
before and after the configs.

    python benchmarks/overhead.py                   # both configs, ~7 min
    python benchmarks/overhead.py --configs tiny --repeats 3

Prints a table and writes `benchmarks/results/overhead.json`.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.baseline import handwritten_dual_encoder  # noqa: E402
from benchmarks.flops import peak_matmul_flops, train_step_flops  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from vlpk.config import ImageConfig, PretrainConfig, TextConfig  # noqa: E402
from vlpk.data import ImagePreprocessor  # noqa: E402
from vlpk.data.pipelines.pretraining import pretraining_dataset  # noqa: E402
from vlpk.jobs.recipes import (  # noqa: E402
    build_model,
    build_optimizer,
    compile_for_pretraining,
)
from vlpk.jobs.splits import read_splits  # noqa: E402
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer  # noqa: E402

CONFIGS = {
    # The quickstart's config (`training/configs/shapes_tiny.py`).
    "tiny": PretrainConfig(),
    # ViT (64 px, 8 px patches: 64 tokens + CLS, 4 x 256) + BERT (4 x 256).
    "base": PretrainConfig(
        image=ImageConfig(
            backbone="vit",
            patch_size=8,
            layers=4,
            heads=4,
            hidden_dim=256,
            mlp_dim=1024,
        ),
        text=TextConfig(layers=4, heads=4, hidden_dim=256, intermediate_dim=1024),
        embedding_dim=256,
    ),
}


def batches(config, data_dir, count):
    """`count` training batches of Shapes, cached, repeated; and the vocabulary size."""
    batch_size = config.optimization.batch_size
    config = config.replace(
        data={
            "train_images": max(64, count * batch_size // 5 + 1),
            "val_images": 8,
            "test_images": 8,
        }
    )
    train, _, _ = read_splits(config, data_dir)
    captions = [c for e in train for c in e.captions]
    vocabulary = learn_vocabulary(captions, config.text.vocabulary_size)
    text = TextPreprocessor(
        wordpiece_tokenizer(vocabulary), config.text.sequence_length
    )
    dataset = pretraining_dataset(
        train,
        ImagePreprocessor(config.image.size),
        text,
        batch_size=batch_size,
        shuffle=True,
        seed=config.seed,
    )
    dataset = dataset.take(count).cache()
    for _ in dataset:  # fill the cache
        pass
    return dataset.repeat(), len(vocabulary)


def build_arms(config, vocabulary_size, total_steps):
    keras.utils.set_random_seed(config.seed)
    vlpk_model = build_model(config, vocabulary_size)
    compile_for_pretraining(vlpk_model, config, total_steps)
    keras.utils.set_random_seed(config.seed)
    baseline = handwritten_dual_encoder(config, vocabulary_size)
    baseline.compile(
        optimizer=build_optimizer(config.optimization, total_steps),
        jit_compile=config.distribution.jit_compile,
    )
    return {"vlpk": vlpk_model, "baseline": baseline}


class StepClock(keras.callbacks.Callback):
    """The time at the end of every training batch."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def timed_fit(model, dataset, steps):
    """`(steady seconds per step, whole fit seconds)` of one `fit`.

    The steady time runs from the end of the first batch to the end of the
    last, so it leaves out `fit`'s start and end: on this machine `fit`
    sometimes stalls for up to seconds after its last batch (both arms alike,
    see benchmarks/RESULTS.md).
    """
    clock = StepClock()
    start = time.perf_counter()
    model.fit(
        dataset,
        steps_per_epoch=steps,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[clock],
    )
    whole = time.perf_counter() - start
    return (clock.times[-1] - clock.times[0]) / (steps - 1), whole


REPEATS = {"tiny": 11, "base": 5}


def run_config(name, config, args, data_dir):
    repeats = args.repeats or REPEATS[name]
    batch_size = config.optimization.batch_size
    dataset, vocabulary_size = batches(config, data_dir, args.batches)
    total = (repeats + 2) * args.steps
    arms = build_arms(config, vocabulary_size, total)
    params = {arm: int(model.count_params()) for arm, model in arms.items()}
    if params["vlpk"] != params["baseline"]:
        raise SystemExit(f"{name}: the arms differ in size: {params}")
    for model in arms.values():  # compile, and one untimed round
        model.fit(dataset, steps_per_epoch=args.steps, verbose=0, shuffle=False)
    rates = {arm: [] for arm in arms}
    fit_rates = {arm: [] for arm in arms}
    ratios = []
    for repeat in range(repeats):
        order = list(arms) if repeat % 2 == 0 else list(arms)[::-1]
        seconds = {arm: timed_fit(arms[arm], dataset, args.steps) for arm in order}
        for arm in arms:
            step, whole = seconds[arm]
            rates[arm].append(batch_size / step)
            fit_rates[arm].append(args.steps * batch_size / whole)
        ratios.append(rates["vlpk"][-1] / rates["baseline"][-1])
        print(
            f"  {name} repeat {repeat + 1}: vlpk {rates['vlpk'][-1]:.1f}, baseline "
            f"{rates['baseline'][-1]:.1f} samples/s, ratio {ratios[-1]:.3f}",
            flush=True,
        )
    x, y = next(iter(dataset))
    flops, ops = train_step_flops(arms["vlpk"], x, y)
    step_s = batch_size / statistics.median(rates["vlpk"])
    return {
        "config": config.to_dict(),
        "parameters": params["vlpk"],
        "batch_size": batch_size,
        "samples_per_s": rates,
        "whole_fit_samples_per_s": fit_rates,
        "median_whole_fit_samples_per_s": {
            a: statistics.median(r) for a, r in fit_rates.items()
        },
        "median_samples_per_s": {a: statistics.median(r) for a, r in rates.items()},
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "flops_per_step": flops,
        "flop_ops": ops,
        "median_step_s": step_s,
        "achieved_flops": flops / step_s,
        "best_achieved_flops": flops * max(rates["vlpk"]) / batch_size,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="tiny,base")
    parser.add_argument(
        "--repeats", type=int, default=None, help="default: 11 for tiny, 5 for base"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per fit")
    parser.add_argument("--batches", type=int, default=8, help="cached batches")
    parser.add_argument("--json", default="benchmarks/results/overhead.json")
    args = parser.parse_args()
    peak_before = peak_matmul_flops()
    print(f"peak float32 matmul: {peak_before / 1e9:.1f} GFLOP/s", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for name in args.configs.split(","):
            results[name] = run_config(
                name, CONFIGS[name], args, os.path.join(data_dir, name)
            )
    # Measured before and after: noise only lowers it, so the best is the peak.
    peak_after = peak_matmul_flops()
    peak = max(peak_before, peak_after)
    for r in results.values():
        r["mfu"] = r["achieved_flops"] / peak
        r["best_mfu"] = r["best_achieved_flops"] / peak
    out = {
        "machine": machine(),
        "settings": vars(args),
        "peak_matmul_flops": peak,
        "peak_matmul_flops_before_after": [peak_before, peak_after],
        "results": results,
    }
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
    print(
        f"\npeak float32 matmul {peak / 1e9:.0f} GFLOP/s (before / after: "
        f"{peak_before / 1e9:.0f} / {peak_after / 1e9:.0f})"
    )
    print(
        "| config | parameters | vlpk samples/s | baseline samples/s | ratio "
        "| GFLOP / step | achieved GFLOP/s | MFU (median) | MFU (best repeat) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        m = r["median_samples_per_s"]
        print(
            f"| {name} | {r['parameters']:,} | {m['vlpk']:.1f} | {m['baseline']:.1f} "
            f"| **{r['median_ratio']:.3f}** | {r['flops_per_step'] / 1e9:.2f} "
            f"| {r['achieved_flops'] / 1e9:.1f} | {100 * r['mfu']:.1f}% "
            f"| {100 * r['best_mfu']:.1f}% |"
        )


if __name__ == "__main__":
    main()
