"""Training-step throughput of `VisionCausalLM.fit` against a hand-written loop.

The model is the one `vision_lm_generate.py` times, built offline from a
config: a Llama-family LM (`--layers` x `--hidden-dim`, `--heads` heads,
vocabulary `--vocabulary-size`) behind `ImageEncoder(small_cnn(64, widths=
(32, 64)), output="tokens")` (256 image tokens) and the default
`MLPConnector`, causal attention. The batches are preprocessed already, in
`VisionLMPreprocessor`'s layout, from random token ids (no tokenizer):
`x = {"images", "token_ids", "padding_mask", "response_mask"}` with
`[start] prompt answer [end] pad...` rows of `--sequence-length` tokens,
`y` the next token, `sample_weight` 1 where that token is in the answer.
`--batches` such batches of `--batch-size` are cached in a `tf.data`
pipeline and repeated; every arm reads the same batches in the same order.

Each arm is its own model, built from the same seed (the script checks that
the arms start from the same weights), trained with AdamW (2e-4, weight
decay 0, clipped at norm 1: `VisionCausalLM.compile`'s default) and
`AnswerLoss`:

- `fit`: `task.compile(optimizer, AnswerLoss(), weighted_metrics=[])`, then
  `task.fit` on the dataset: the same work as the hand-written loop;
- `hand`: a `tf.function` step with `tf.GradientTape` around
  `backbone(x, training=True)`, `backbone.token_embedding(hidden,
  reverse=True)` and the same loss, then `optimizer.apply_gradients`,
  called from a Python loop over the dataset (reading the loss each step,
  as `fit` reads its logs);
- `fit_default`: `task.compile()` with no arguments, which adds a token
  accuracy metric on the answer: what a user gets, for reference.

Every arm first runs `--warmup-steps` untimed steps (the first traces).
Each repeat then runs `--steps` steps of every arm, the order of the arms
flipping between repeats. The rate counts the steady steps only, from the
end of the first step to the end of the last (as `overhead.py` does, which
leaves out `fit`'s start and end). Ratios are taken within a repeat; the
table gives medians. The first-step losses of the arms are printed: they
agree when the arms compute the same thing.

    python benchmarks/vision_lm_train.py                       # ~4 min
    python benchmarks/vision_lm_train.py --repeats 5 --batch-size 4

Prints a table and writes `benchmarks/results/vision_lm_train.json`.
"""

import argparse
import json
import os
import statistics
import sys
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402
from vlpk.encoders import ImageEncoder, small_cnn  # noqa: E402
from vlpk.losses import AnswerLoss  # noqa: E402
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone  # noqa: E402

START, END, PAD = 1, 2, 0


def build_task(args):
    """A fresh `VisionCausalLM` (no preprocessor), the same for every seed."""
    keras.utils.set_random_seed(args.seed)
    lm = keras_hub.models.LlamaBackbone(
        vocabulary_size=args.vocabulary_size,
        num_layers=args.layers,
        num_query_heads=args.heads,
        num_key_value_heads=args.key_value_heads or args.heads,
        hidden_dim=args.hidden_dim,
        intermediate_dim=args.intermediate_dim,
    )
    encoder = ImageEncoder(
        small_cnn(args.image_size, widths=tuple(args.widths)), output="tokens"
    )
    backbone = VisionLMBackbone(encoder, lm, attention="causal")
    return VisionCausalLM(backbone, preprocessor=None)


def optimizer():
    # `VisionCausalLM.compile`'s "auto" optimizer.
    return keras.optimizers.AdamW(2e-4, weight_decay=0.0, clipnorm=1.0)


def batches(args):
    """`--batches` preprocessed batches, cached and repeated, as `(x, y, w)`."""
    rng = np.random.default_rng(args.seed)
    count, length = args.batches * args.batch_size, args.sequence_length
    ids = np.full((count, length + 1), PAD, "int32")
    answer = np.zeros((count, length + 1), "int32")
    real = np.zeros((count, length + 1), "int32")
    for row in range(count):
        prompt = int(rng.integers(length // 4, length // 2))
        response = int(rng.integers(2, length - prompt - 1))
        tokens = rng.integers(3, args.vocabulary_size, prompt + response)
        ids[row, : 2 + prompt + response] = [START, *tokens, END]
        answer[row, 1 + prompt : 2 + prompt + response] = 1
        real[row, : 2 + prompt + response] = 1
    x = {
        "images": rng.uniform(
            0, 255, (count, args.image_size, args.image_size, 3)
        ).astype("float32"),
        "token_ids": ids[:, :-1],
        "padding_mask": real[:, :-1],
        "response_mask": answer[:, :-1],
    }
    y, weight = ids[:, 1:], answer[:, 1:]
    dataset = tf.data.Dataset.from_tensor_slices((x, y, weight))
    dataset = dataset.batch(args.batch_size).cache()
    for _ in dataset:  # fill the cache
        pass
    return dataset.repeat()


class StepClock(keras.callbacks.Callback):
    """The time, and the loss, at the end of every training batch."""

    def on_train_begin(self, logs=None):
        self.times, self.losses = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())
        self.losses.append(float(logs["loss"]))


def fit_arm(task, dataset):
    """`run(steps) -> (end-of-step times, losses)` with `task.fit`."""

    def run(steps):
        clock = StepClock()
        task.fit(
            dataset,
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[clock],
        )
        return clock.times, clock.losses

    return run


def hand_arm(task, dataset, jit_compile):
    """`run(steps) -> (end-of-step times, losses)` with a GradientTape loop."""
    backbone = task.backbone
    loss_fn = AnswerLoss()
    adamw = optimizer()
    variables = backbone.trainable_variables
    adamw.build(variables)

    @tf.function(jit_compile=jit_compile)
    def train_step(x, y, weight):
        with tf.GradientTape() as tape:
            hidden = backbone(x, training=True)
            logits = backbone.token_embedding(hidden, reverse=True)
            loss = loss_fn(y, logits, weight)
        gradients = tape.gradient(loss, variables)
        adamw.apply_gradients(zip(gradients, variables))
        return loss

    def run(steps):
        times, losses = [], []
        iterator = iter(dataset)
        for _ in range(steps):
            x, y, weight = next(iterator)
            losses.append(float(train_step(x, y, weight)))
            times.append(time.perf_counter())
        return times, losses

    return run


def build_arms(args, dataset):
    arms, models = {}, {}
    task = build_task(args)
    task.compile(
        optimizer=optimizer(),
        loss=AnswerLoss(),
        weighted_metrics=[],
        jit_compile=args.jit_compile,
    )
    arms["fit"], models["fit"] = fit_arm(task, dataset), task
    task = build_task(args)
    arms["hand"], models["hand"] = hand_arm(task, dataset, args.jit_compile), task
    if not args.skip_default:
        task = build_task(args)
        task.compile(jit_compile=args.jit_compile)
        arms["fit_default"], models["fit_default"] = fit_arm(task, dataset), task
    # The same model everywhere: same sizes, same starting weights.
    reference = [np.asarray(w) for w in models["fit"].get_weights()]
    for name, model in models.items():
        weights = model.get_weights()
        same = len(weights) == len(reference) and all(
            a.shape == b.shape and np.array_equal(a, b)
            for a, b in zip(reference, weights)
        )
        if not same:
            raise SystemExit(f"the {name} arm does not start from the same weights")
    return arms, int(models["fit"].count_params())


def parse_args():
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per arm")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=4, help="cached batches")
    parser.add_argument(
        "--sequence-length", type=int, default=32, help="text tokens per row"
    )
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument(
        "--key-value-heads", type=int, default=None, help="default: --heads"
    )
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--vocabulary-size", type=int, default=2048)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument(
        "--jit-compile",
        action="store_true",
        help="XLA for every arm (default: off, as Keras's 'auto' on a CPU)",
    )
    parser.add_argument(
        "--skip-default",
        action="store_true",
        help="leave out the `fit_default` arm (compile() with its accuracy metric)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="benchmarks/results/vision_lm_train.json")
    return parser.parse_args()


def main():
    args = parse_args()

    dataset = batches(args)
    arms, parameters = build_arms(args, dataset)
    first_losses = {}
    for name, run in arms.items():  # untimed: tracing and the first steps
        _, losses = run(args.warmup_steps)
        first_losses[name] = losses[0]
    print(
        f"VisionCausalLM: {parameters:,} parameters; batch {args.batch_size}, "
        f"{args.sequence_length} text tokens + the image prefix; first-step "
        "losses: " + ", ".join(f"{n} {v:.6f}" for n, v in first_losses.items()),
        flush=True,
    )
    rates = {name: [] for name in arms}
    for repeat in range(args.repeats):
        order = list(arms) if repeat % 2 == 0 else list(arms)[::-1]
        for name in order:
            times, _ = arms[name](args.steps)
            rates[name].append((len(times) - 1) / (times[-1] - times[0]))
        line = ", ".join(f"{n} {rates[n][-1]:.3f}" for n in arms)
        print(f"  repeat {repeat + 1}: steps/s {line}", flush=True)
    ratios = {"fit/hand": [f / h for f, h in zip(rates["fit"], rates["hand"])]}
    if "fit_default" in arms:
        ratios["fit_default/hand"] = [
            f / h for f, h in zip(rates["fit_default"], rates["hand"])
        ]
    medians = {name: statistics.median(r) for name, r in rates.items()}
    median_ratios = {name: statistics.median(r) for name, r in ratios.items()}
    out = {
        "machine": machine(),
        "settings": vars(args),
        "parameters": parameters,
        "first_step_losses": first_losses,
        "steps_per_s": rates,
        "median_steps_per_s": medians,
        "median_samples_per_s": {n: v * args.batch_size for n, v in medians.items()},
        "ratios": ratios,
        "median_ratios": median_ratios,
    }
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
    print(
        f"\nmedian steady steps/s ({args.repeats} repeats of {args.steps} steps); "
        "ratios are medians of per-repeat ratios"
    )
    print(
        "| "
        + " | ".join(f"{n} steps/s" for n in arms)
        + " | "
        + " | ".join(median_ratios)
        + " |"
    )
    print("|---" * (len(arms) + len(median_ratios)) + "|")
    print(
        "| "
        + " | ".join(f"{medians[n]:.3f}" for n in arms)
        + " | "
        + " | ".join(f"**{v:.3f}**" for v in median_ratios.values())
        + " |"
    )


if __name__ == "__main__":
    main()
