"""`vlpk pretrain`: pretrain, evaluate and export a vision-language model.

The whole job, top to bottom, in the order a reader would do it by hand:
data → vocabulary → model → fit → evaluate → export → report. The config's
objectives choose the task: contrastive alone trains a `ContrastivePretrainer`
(CLIP/SigLIP); adding matching and masked LM (ALBEF/BLIP) or captioning
(CoCa) trains an `ImageTextPretrainer`. The run folder keeps the task as a
preset (`preset/`), with its preprocessor. `vlpk quickstart` is this job
with the default config.
"""

import contextlib
import json
import math
import os
import sys
import time

import keras
import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.pipelines.pipeline import caption_pairs
from vlpk.data.pipelines.pretraining import masked_lm_generator, pretraining_dataset
from vlpk.data.shards.shard_splits import ShardSplit
from vlpk.distribution import build_strategy, set_precision
from vlpk.evaluation import (
    caption_bleu,
    evaluate_objectives,
    evaluate_retrieval,
    evaluate_with_mismatched_images,
    generate_split_captions,
)
from vlpk.export import export_saved_model
from vlpk.jobs.loop import TrainingInputs, is_chief, train_model
from vlpk.jobs.recipes import build_model, compile_for_pretraining, contrastive_only
from vlpk.jobs.run_dir import PRESET_DIR, record_data_dir
from vlpk.jobs.splits import read_splits, split_protocol
from vlpk.models import ContrastivePreprocessor, VisionLanguagePreprocessor
from vlpk.models.presets import load_task
from vlpk.models.vision_language.vision_language_preprocessor import OBJECTIVES
from vlpk.text import (
    TextPreprocessor,
    learn_vocabulary,
    tokenizer_from_preset,
    wordpiece_tokenizer,
)

RETRIEVAL_KEYS = ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10")


def _say(message):
    print(message, file=sys.stderr, flush=True)


def run_pretrain(
    config,
    workdir="runs/quickstart",
    export_root="saved_models",
    data_dir=None,
    verbose=2,
    callbacks=(),
):
    """Runs the pretraining job and returns its metrics dict.

    Args:
        config: a `PretrainConfig`.
        workdir: where the run writes `vocab.txt`, `logs/`, `preset/` (the
            task, see `vlpk.models.load_task`), `config.json` and
            `metrics.json`.
        export_root: the TF Serving models folder; the SavedModel goes to
            `<export_root>/<config.name>/<next version>/`.
        data_dir: where Shapes is generated (cached); `<workdir>/shapes` when
            None.
        verbose: `fit` verbosity (2: one line an epoch).
        callbacks: more Keras callbacks for `fit` (they see one "epoch" per
            checkpoint interval when `optimization.checkpoint_every` is set).

    Returns:
        The dict written to `metrics.json`.
    """
    config.validate()
    distribution = config.distribution
    if distribution.deterministic:
        tf.config.experimental.enable_op_determinism()
    # First, before any other TensorFlow op: MultiWorkerMirroredStrategy must
    # configure the collectives at program start.
    devices = distribution.devices.split(",") if distribution.devices else None
    strategy = build_strategy(distribution.strategy, devices=devices)
    previous_policy = keras.mixed_precision.global_policy().name
    set_precision(distribution.precision)
    try:
        return _run(
            config, strategy, workdir, export_root, data_dir, verbose, callbacks
        )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _run(config, strategy, workdir, export_root, data_dir, verbose, callbacks):
    """The job's stages, in order; each `[n/6]` line names one."""
    keras.utils.set_random_seed(config.seed)
    os.makedirs(workdir, exist_ok=True)
    config = absolute_shard_paths(config)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    timings = {}
    start = time.perf_counter()
    _say(f"[1/6] {config.data.label} data")
    data_dir = data_dir or os.path.join(
        workdir, "data" if config.data.uses_shards else "shapes"
    )
    train, val, test = read_splits(config, data_dir)
    record_data_dir(workdir, data_dir)
    timings["data_s"] = time.perf_counter() - start
    _say("[2/6] Tokenizer")
    inputs = _training_inputs(config, train, val, workdir)
    model, total_steps = _build_model(config, strategy, inputs)
    fit_start = time.perf_counter()
    history = train_model(config, model, strategy, inputs, workdir, verbose, callbacks)
    timings["fit_s"] = time.perf_counter() - fit_start
    if not is_chief(strategy):
        # Other workers trained in lockstep; only the chief writes results.
        _say("      not the chief worker: leaving evaluation and export to it")
        return {"train_history": history}
    task = _save_preset(config, model, inputs, workdir)
    _say(f"[5/6] Evaluating: retrieval on test ({len(test)} images), heads on val")
    retrieval = evaluate_retrieval(
        task.backbone, test, inputs.image_preprocessor, inputs.text_preprocessor
    )
    heads = _evaluate_heads(config, task, inputs)
    _say(f"[6/6] Exporting a SavedModel under {export_root}/{config.name}/")
    export_path = export_saved_model(task.serving_archive(), export_root, config.name)
    timings["total_s"] = time.perf_counter() - start
    metrics = {
        "retrieval": retrieval,
        "validation": heads,
        "objectives": dict(config.objectives),
        "train_loss": [float(v) for v in history.get("loss", [])],
        "train_history": history,
        "temperature": task.backbone.temperature,
        "test_protocol": _test_protocol(config),
        "test_images": len(test),
        "test_captions": sum(len(e.captions) for e in test),
        "steps": total_steps,
        "export_path": os.path.abspath(export_path),
        "timings": timings,
    }
    return _write_metrics(metrics, workdir)


def _training_inputs(config, train, val, workdir):
    """Stage 2: the tokenizer, the preprocessors and the dataset builder."""
    tokenizer = _tokenizer(config, train, workdir)
    text_preprocessor = TextPreprocessor(tokenizer, config.text.sequence_length)
    image_preprocessor = ImagePreprocessor(config.image.size)
    objectives = tuple(config.objectives)
    mask_generator = (
        masked_lm_generator(tokenizer, config.text.sequence_length, config.mlm_rate)
        if "masked_lm" in objectives
        else None
    )
    # Step-based runs (and multi-worker ones) read an endless stream.
    optimization = config.optimization
    repeat = (
        optimization.steps_per_epoch is not None
        or bool(optimization.checkpoint_every)
        or config.distribution.strategy == "multi_worker"
    )

    def dataset(examples, training=True):
        return pretraining_dataset(
            examples,
            image_preprocessor,
            text_preprocessor,
            objectives=objectives,
            mask_generator=mask_generator,
            batch_size=optimization.batch_size,
            shuffle=training,
            seed=config.seed,
            repeat=training and repeat,
        )

    pairs = (
        train.captions
        if isinstance(train, ShardSplit)
        else len(caption_pairs(train)["caption"])
    )
    steps_per_epoch = optimization.steps_per_epoch or (pairs // optimization.batch_size)
    return TrainingInputs(
        train,
        val,
        tokenizer,
        image_preprocessor,
        text_preprocessor,
        dataset,
        steps_per_epoch,
    )


def _build_model(config, strategy, inputs):
    """Stages 3 and 4's banner: the compiled model, under the strategy."""
    _say(
        f"[3/6] Building the model: {', '.join(config.objectives)} (strategy "
        f"{config.distribution.strategy!r})"
    )
    optimization = config.optimization
    total_steps = inputs.steps_per_epoch * optimization.epochs
    with strategy.scope():
        model = build_model(config, inputs.tokenizer.vocabulary_size())
        loss_weights = compile_for_pretraining(model, config, total_steps)
    _say(
        f"      {model.count_params():,} parameters, {config.loss} contrastive "
        f"loss, weights {loss_weights}, {strategy.num_replicas_in_sync} "
        f"replica(s), {config.distribution.precision}"
    )
    every = optimization.checkpoint_every
    _say(
        f"[4/6] Pretraining: {optimization.epochs} epochs x {inputs.steps_per_epoch} "
        f"steps, batch {optimization.batch_size}"
        + (f", checkpoint every {every} steps" if every else "")
    )
    return model, total_steps


def _save_preset(config, task, inputs, workdir):
    """Writes `<workdir>/preset/`: the task with its preprocessor attached.

    The preset carries the run's tokenizer and image preprocessing, so
    `load_task` (or `vlpk finetune --from <workdir>`) takes raw images and
    strings. Returns the task to evaluate and export, its preprocessor on.
    """
    path = os.path.join(workdir, PRESET_DIR)
    task.preprocessor = _preprocessor(config, inputs)
    task.save_to_preset(path)
    if config.distribution.strategy == "multi_worker":
        # The other workers are gone: evaluate a copy outside the strategy,
        # whose collectives would wait for them forever.
        return load_task(path)
    return task


def _preprocessor(config, inputs):
    """The task's preprocessor: the job's tokenizer and image preprocessing."""
    args = (
        inputs.tokenizer,
        inputs.image_preprocessor,
        inputs.text_preprocessor.sequence_length,
    )
    if contrastive_only(config):
        return ContrastivePreprocessor(*args)
    return VisionLanguagePreprocessor(
        *args,
        objectives=tuple(o for o in OBJECTIVES if o in config.objectives),
        mask_selection_rate=config.mlm_rate,
    )


@contextlib.contextmanager
def preprocessed_inputs(task):
    """`task` with its preprocessor off, for batches preprocessed in `tf.data`.

    KerasHub's `Task` maps its preprocessor over what `fit` and `evaluate`
    get; the job's datasets already hold model inputs and targets.
    """
    preprocessor, task.preprocessor = task.preprocessor, None
    try:
        yield task
    finally:
        task.preprocessor = preprocessor


def _evaluate_heads(config, task, inputs):
    """Stage 5 beyond retrieval: each head on val, and generated captions."""
    val = inputs.val
    heads = {}
    if not contrastive_only(config):
        with preprocessed_inputs(task):
            heads = _head_accuracies(task, inputs.dataset(val, training=False))
    if "captioning" in config.objectives:
        captions = generate_split_captions(
            task,
            val,
            inputs.image_preprocessor,
            inputs.tokenizer,
            config.decoder.sampler,
        )
        heads["caption_bleu4"] = caption_bleu([e.captions for e in val], captions)
        heads["caption_samples"] = [
            {"image_id": e.image_id, "generated": c, "references": list(e.captions)}
            for e, c in list(zip(val, captions))[:5]
        ]
    return heads


def _head_accuracies(task, dataset):
    """Each head's loss and accuracy, and with mismatched images for the
    heads that generate text."""
    heads = evaluate_objectives(task, dataset)
    if {"masked_lm", "captioning"} & set(task.objectives):
        # The same heads with each caption paired with another image: the
        # drop in token accuracy is what the image contributes.
        mismatched = evaluate_with_mismatched_images(task, dataset)
        for head in ("masked_lm", "captioning"):
            if f"{head}_accuracy" in mismatched:
                heads[f"{head}_accuracy_mismatched_images"] = mismatched[
                    f"{head}_accuracy"
                ]
    return heads


def absolute_shard_paths(config):
    """`config` with its shard folders absolute, so that `vlpk finetune` and
    `vlpk evaluate` find them from any folder."""
    data = config.data
    paths = {
        split: os.path.abspath(getattr(data, split))
        for split in ("train", "val", "test")
        if getattr(data, split)
    }
    return config.replace(data=paths) if paths else config


def _test_protocol(config):
    """Which test split the retrieval numbers are on (see `split_protocol`)."""
    if config.data.uses_shards:
        return split_protocol(config.data)
    if config.data.name == "coco":
        return "coco val (as test)"
    return "shapes test"


def _write_metrics(metrics, workdir):
    if any(not math.isfinite(v) for v in metrics["train_loss"]):
        raise FloatingPointError("Training diverged: the loss is not finite.")
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(summary_table(metrics))
    return metrics


def _tokenizer(config, train, workdir):
    if config.text.preset:
        _say(f"      the preset's tokenizer ({config.text.preset})")
        return tokenizer_from_preset(config.text.preset)
    if isinstance(train, ShardSplit):
        captions = train.caption_dataset()  # streamed, never listed
    else:
        captions = [c for e in train for c in e.captions]
    path = os.path.join(workdir, "vocab.txt")
    vocabulary = learn_vocabulary(captions, config.text.vocabulary_size, path)
    _say(f"      learned a {len(vocabulary)}-token WordPiece vocabulary -> {path}")
    return wordpiece_tokenizer(vocabulary)


def summary_table(metrics):
    """The table printed at the end of the quickstart."""
    r = metrics["retrieval"]
    lines = [
        "",
        f"Retrieval on {metrics.get('test_protocol', 'shapes test')} "
        f"({metrics['test_images']} images, {metrics['test_captions']} captions)",
        "  direction       R@1     R@5    R@10   median rank",
        f"  image->text  {r['i2t_r1']:6.1f}  {r['i2t_r5']:6.1f}  {r['i2t_r10']:6.1f}"
        f"   {r['i2t_median_rank']:6.0f}",
        f"  text->image  {r['t2i_r1']:6.1f}  {r['t2i_r5']:6.1f}  {r['t2i_r10']:6.1f}"
        f"   {r['t2i_median_rank']:6.0f}",
        f"  final train loss {(metrics['train_loss'] or [float('nan')])[-1]:.3f}, "
        f"temperature {metrics['temperature']:.4f}",
    ]
    heads = metrics.get("validation") or {}
    for key, label in (
        ("matching_accuracy", "image-text matching accuracy"),
        ("masked_lm_accuracy", "masked-LM token accuracy"),
        (
            "masked_lm_accuracy_mismatched_images",
            "masked-LM accuracy, mismatched images",
        ),
        ("captioning_accuracy", "captioning next-token accuracy"),
        (
            "captioning_accuracy_mismatched_images",
            "captioning accuracy, mismatched images",
        ),
        ("caption_bleu4", "caption BLEU-4"),
    ):
        if key in heads:
            if key == "caption_bleu4":  # already 0-100, and not a percentage
                lines.append(f"  val {label}: {heads[key]:.1f}")
            else:
                lines.append(f"  val {label}: {100 * heads[key]:.1f}%")
    lines += [
        f"  SavedModel: {metrics['export_path']}",
        f"  time: {metrics['timings']['total_s']:.0f} s "
        f"(training {metrics['timings']['fit_s']:.0f} s)",
    ]
    return "\n".join(lines)
