"""`vlpk pretrain`: pretrain, evaluate and export a dual encoder on Shapes.

The whole job, top to bottom, in the order a reader would do it by hand:
data → vocabulary → model → fit → evaluate → export → report. `vlpk
quickstart` is this job with the default config.
"""

import json
import math
import os
import sys
import time

import keras

from vlpk.callbacks import RetrievalEvaluation
from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.data.pipeline import caption_pairs, contrastive_dataset
from vlpk.data.synthetic import read_shapes, write_shapes
from vlpk.distribute import build_strategy, set_precision
from vlpk.evaluation import evaluate_retrieval
from vlpk.export import dual_encoder_archive, export_saved_model
from vlpk.recipes import build_dual_encoder, build_loss, build_optimizer
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

RETRIEVAL_KEYS = ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10")


def _say(message):
    print(message, file=sys.stderr, flush=True)


def run_pretrain(
    config,
    workdir="runs/quickstart",
    export_root="saved_models",
    data_dir=None,
    verbose=2,
):
    """Runs the pretraining job and returns its metrics dict.

    Args:
        config: a `PretrainConfig`.
        workdir: where the run writes `vocab.txt`, `logs/`, `model.keras`,
            `config.json` and `metrics.json`.
        export_root: the TF Serving models folder; the SavedModel goes to
            `<export_root>/<config.name>/<next version>/`.
        data_dir: where Shapes is generated (cached); `<workdir>/shapes` when
            None.
        verbose: `fit` verbosity (2: one line an epoch).

    Returns:
        The dict written to `metrics.json`.
    """
    config.validate()
    previous_policy = keras.mixed_precision.global_policy().name
    set_precision(config.precision)
    try:
        return _run(config, workdir, export_root, data_dir, verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _run(config, workdir, export_root, data_dir, verbose):
    keras.utils.set_random_seed(config.seed)
    os.makedirs(workdir, exist_ok=True)
    data_dir = data_dir or os.path.join(workdir, "shapes")
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    timings = {}
    start = time.perf_counter()

    _say(f"[1/6] Shapes data in {data_dir}")
    write_shapes(
        data_dir,
        seed=config.seed,
        image_size=config.image_size,
        splits={
            "train": config.train_images,
            "val": config.val_images,
            "test": config.test_images,
        },
    )
    train, val, test = (read_shapes(data_dir, s) for s in ("train", "val", "test"))
    timings["data_s"] = time.perf_counter() - start

    _say("[2/6] Learning the WordPiece vocabulary from the training captions")
    captions = [c for e in train for c in e.captions]
    vocabulary = learn_vocabulary(
        captions, config.vocabulary_size, os.path.join(workdir, "vocab.txt")
    )
    text_preprocessor = TextPreprocessor(
        wordpiece_tokenizer(vocabulary), config.sequence_length
    )
    image_preprocessor = ImagePreprocessor(config.image_size)
    _say(f"      {len(vocabulary)} tokens -> {os.path.join(workdir, 'vocab.txt')}")

    _say(f"[3/6] Building the dual encoder (strategy {config.strategy!r})")
    strategy = build_strategy(config.strategy)
    pairs = len(caption_pairs(train)["caption"])
    steps_per_epoch = config.steps_per_epoch or pairs // config.batch_size
    with strategy.scope():
        model = build_dual_encoder(config, len(vocabulary))
        model.compile(
            optimizer=build_optimizer(config, steps_per_epoch * config.epochs),
            loss={"contrastive": build_loss(config)},
            jit_compile=config.jit_compile,
        )
    _say(
        f"      {model.count_params():,} parameters, {config.loss} loss, "
        f"{strategy.num_replicas_in_sync} replica(s), {config.precision}"
    )

    _say(
        f"[4/6] Pretraining: {config.epochs} epochs x {steps_per_epoch} steps, "
        f"batch {config.batch_size}"
    )
    train_ds = contrastive_dataset(
        train,
        image_preprocessor,
        text_preprocessor,
        batch_size=config.batch_size,
        seed=config.seed,
        repeat=config.steps_per_epoch is not None,
    )
    fit_start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=[
            RetrievalEvaluation(val, image_preprocessor, text_preprocessor),
            keras.callbacks.TensorBoard(os.path.join(workdir, "logs")),
        ],
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself, deterministically
    )
    timings["fit_s"] = time.perf_counter() - fit_start
    model.save(os.path.join(workdir, "model.keras"))

    _say(f"[5/6] Evaluating retrieval on the test split ({len(test)} images)")
    retrieval = evaluate_retrieval(model, test, image_preprocessor, text_preprocessor)

    _say(f"[6/6] Exporting a SavedModel under {export_root}/{config.name}/")
    export_path = export_saved_model(
        dual_encoder_archive(model, image_preprocessor, text_preprocessor),
        export_root,
        config.name,
    )
    timings["total_s"] = time.perf_counter() - start

    metrics = {
        "retrieval": retrieval,
        "train_loss": [float(v) for v in history.history["loss"]],
        "temperature": model.temperature,
        "test_images": len(test),
        "test_captions": sum(len(e.captions) for e in test),
        "export_path": os.path.abspath(export_path),
        "timings": timings,
    }
    if any(not math.isfinite(v) for v in metrics["train_loss"]):
        raise FloatingPointError("Training diverged: the loss is not finite.")
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(summary_table(metrics))
    return metrics


def summary_table(metrics):
    """The table printed at the end of the quickstart."""
    r = metrics["retrieval"]
    lines = [
        "",
        f"Retrieval on the Shapes test split ({metrics['test_images']} images, "
        f"{metrics['test_captions']} captions)",
        "  direction       R@1     R@5    R@10   median rank",
        f"  image->text  {r['i2t_r1']:6.1f}  {r['i2t_r5']:6.1f}  {r['i2t_r10']:6.1f}"
        f"   {r['i2t_median_rank']:6.0f}",
        f"  text->image  {r['t2i_r1']:6.1f}  {r['t2i_r5']:6.1f}  {r['t2i_r10']:6.1f}"
        f"   {r['t2i_median_rank']:6.0f}",
        f"  final train loss {metrics['train_loss'][-1]:.3f}, "
        f"temperature {metrics['temperature']:.4f}",
        f"  SavedModel: {metrics['export_path']}",
        f"  time: {metrics['timings']['total_s']:.0f} s "
        f"(training {metrics['timings']['fit_s']:.0f} s)",
    ]
    return "\n".join(lines)
