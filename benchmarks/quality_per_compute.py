"""Retrieval quality against training wall-clock time on Shapes, three ways.

Trains, on the same Shapes data and pipeline and for the same number of
steps, the quickstart's architecture (small CNN + 2-layer BERT, batch 64) in
three ways:

- `vlpk`: the default config, as `vlpk quickstart` builds and compiles it
  (trainable encoders, linear projections, CLIP loss with a learned
  temperature, AdamW with warm-up and cosine decay);
- `keras_io_recipe`: keras.io's "Natural language image search with a Dual
  Encoder" re-expressed with vlpk's parts: the encoders frozen, projection
  heads with a GELU layer, dropout 0.1, a residual and a layer norm
  (`ProjectionHead(hidden_dim=...)`), a fixed temperature of 0.05, its
  similarity-based soft targets (`ContrastiveLoss(targets="similarity")`)
  and its optimizer (AdamW, 1e-3, weight decay 1e-3). keras.io freezes
  *pretrained* encoders; no weights can be downloaded here, so these are
  frozen at their random initialization, and the curve shows what training
  only the heads on top of them buys;
- `keras_io_on_vlpk`: the same recipe on the encoders the `vlpk` arm has
  just trained (frozen): the nearest thing to keras.io's pretrained
  encoders here. Its curve starts where the `vlpk` arm's ends, in time and
  steps, since that compute was spent first;
- `baseline`: the hand-written keras.io-style model of
  `benchmarks/baseline.py`, with vlpk's optimizer.

Every `--eval-every` steps a callback stops the clock, embeds the 500 test
images and their 2,500 captions and records Recall@1 in both directions;
the time on the x axis is training time only (evaluation excluded,
compilation and the input pipeline included).

    python benchmarks/quality_per_compute.py          # ~6 min on 2 cores
    python benchmarks/quality_per_compute.py --arms vlpk,baseline

Writes `benchmarks/results/quality_per_compute.json` and `.png`.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.baseline import handwritten_dual_encoder  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from vlpk.config import PretrainConfig  # noqa: E402
from vlpk.data import ImagePreprocessor  # noqa: E402
from vlpk.data.pipelines.pretraining import pretraining_dataset  # noqa: E402
from vlpk.evaluation import evaluate_retrieval  # noqa: E402
from vlpk.jobs.recipes import (  # noqa: E402
    build_image_encoder,
    build_model,
    build_optimizer,
    build_text_encoder,
    compile_for_pretraining,
)
from vlpk.jobs.splits import read_splits  # noqa: E402
from vlpk.losses import ContrastiveLoss  # noqa: E402
from vlpk.models import DualEncoderBackbone  # noqa: E402
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer  # noqa: E402

ARMS = ("vlpk", "keras_io_recipe", "keras_io_on_vlpk", "baseline")


def recipe(image, text, config):
    """keras.io's recipe with vlpk's parts, on frozen `image` / `text` encoders."""
    image.trainable = False
    text.trainable = False
    model = DualEncoderBackbone(
        image,
        text,
        embedding_dim=config.embedding_dim,
        projection_hidden_dim=config.embedding_dim,
        projection_dropout=0.1,
        initial_temperature=0.05,
    )
    model.logit_scale_layer.trainable = False
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-3),
        loss={"contrastive": ContrastiveLoss(targets="similarity")},
    )
    return model


def build(arm, config, vocabulary_size, total_steps, trained=None):
    keras.utils.set_random_seed(config.seed)
    if arm == "vlpk":
        model = build_model(config, vocabulary_size)
        compile_for_pretraining(model, config, total_steps)
    elif arm == "keras_io_recipe":
        image = build_image_encoder(config.image, output="pooled")
        text = build_text_encoder(config.text, vocabulary_size)
        model = recipe(image, text, config)
    elif arm == "keras_io_on_vlpk":
        if trained is None:
            raise SystemExit("keras_io_on_vlpk needs the vlpk arm to run first.")
        backbone = trained.backbone
        model = recipe(backbone.image_encoder, backbone.text_encoder, config)
    else:
        model = handwritten_dual_encoder(config, vocabulary_size)
        model.compile(optimizer=build_optimizer(config.optimization, total_steps))
    return model


class RecallCurve(keras.callbacks.Callback):
    """Records test Recall@1 against training time, every `every` steps
    (`offset` seconds and steps are added: compute spent before)."""

    def __init__(self, evaluate, every, offset=(0.0, 0)):
        super().__init__()
        self.evaluate, self.every = evaluate, every
        self.offset = offset
        self.points, self.paused = [], 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if step % self.every:
            return
        paused = time.perf_counter()
        metrics = self.evaluate(self.model)
        seconds = paused - self.start - self.paused + self.offset[0]
        step += self.offset[1]
        self.points.append(
            {
                "step": step,
                "seconds": seconds,
                "i2t_r1": metrics["i2t_r1"],
                "t2i_r1": metrics["t2i_r1"],
            }
        )
        print(
            f"    step {step}: {seconds:.1f} s, R@1 i2t {metrics['i2t_r1']:.1f} "
            f"t2i {metrics['t2i_r1']:.1f}",
            flush=True,
        )
        self.paused += time.perf_counter() - paused


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, key, title in zip(
        axes, ("i2t_r1", "t2i_r1"), ("image → text", "text → image")
    ):
        for arm, points in curves.items():
            axis.plot(
                [p["seconds"] for p in points],
                [p[key] for p in points],
                marker="o",
                markersize=3,
                label=arm,
            )
        axis.set_title(f"Shapes test Recall@1, {title}")
        axis.set_xlabel("training wall-clock (s, evaluation excluded)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@1 (%)")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--steps", type=int, default=1200, help="steps per arm")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--json", default="benchmarks/results/quality_per_compute.json")
    args = parser.parse_args()
    config = PretrainConfig()
    with tempfile.TemporaryDirectory() as data_dir:
        train, _, test = read_splits(config, data_dir)
        captions = [c for e in train for c in e.captions]
        vocabulary = learn_vocabulary(captions, config.text.vocabulary_size)
        text = TextPreprocessor(
            wordpiece_tokenizer(vocabulary), config.text.sequence_length
        )
        image = ImagePreprocessor(config.image.size)

        def evaluate(model):
            return evaluate_retrieval(model, test, image, text)

        curves, trained = {}, None
        for arm in args.arms.split(","):
            print(f"{arm}:", flush=True)
            model = build(arm, config, len(vocabulary), args.steps, trained)
            offset = (0.0, 0)
            if arm == "keras_io_on_vlpk":
                last = curves["vlpk"][-1]
                offset = (last["seconds"], last["step"])
            dataset = pretraining_dataset(
                train,
                image,
                text,
                batch_size=config.optimization.batch_size,
                shuffle=True,
                seed=config.seed,
                repeat=True,
            )
            curve = RecallCurve(evaluate, args.eval_every, offset)
            model.fit(
                dataset,
                steps_per_epoch=args.steps,
                epochs=1,
                verbose=0,
                callbacks=[curve],
                shuffle=False,  # the dataset shuffles itself
            )
            curves[arm] = curve.points
            if arm == "vlpk":
                trained = model
    out = {
        "machine": machine(),
        "settings": vars(args),
        "config": config.to_dict(),
        "curves": curves,
    }
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
    png = os.path.splitext(args.json)[0] + ".png"
    plot(curves, png)
    print(f"\nwrote {args.json} and {png}")
    print("| arm | steps | training s | i2t R@1 | t2i R@1 | best i2t R@1 (at s) |")
    print("|---|---|---|---|---|---|")
    for arm, points in curves.items():
        last = points[-1]
        best = max(points, key=lambda p: p["i2t_r1"])
        print(
            f"| {arm} | {last['step']} | {last['seconds']:.0f} | {last['i2t_r1']:.1f} "
            f"| {last['t2i_r1']:.1f} | {best['i2t_r1']:.1f} ({best['seconds']:.0f}) |"
        )


if __name__ == "__main__":
    main()
