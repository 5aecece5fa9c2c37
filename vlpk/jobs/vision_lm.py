"""`vlpk pretrain` on a `VisionLMConfig`: one LLaVA-style training stage.

data → model (or the earlier stage's) → what trains → fit → save (preset,
LoRA adapters, merged `.keras`) → generate and score → report. Run the
alignment config, then the instruct config with `init_from` the first run.
"""

import json
import os
import sys
import time

import keras
import tensorflow as tf

from vlpk.data.shapes.reader import read_shapes_vqa
from vlpk.distribution import build_strategy, set_precision
from vlpk.jobs.loop import is_chief
from vlpk.jobs.pretrain import preprocessed_inputs
from vlpk.jobs.resume import fit_resumable
from vlpk.jobs.run_dir import PRESET_DIR, record_data_dir
from vlpk.jobs.splits import read_splits
from vlpk.jobs.vision_lm_data import pair_dataset, shapes_pairs
from vlpk.jobs.vision_lm_eval import evaluate_vision_lm
from vlpk.jobs.vision_lm_fit import fit_epochs, is_multi_worker
from vlpk.jobs.vision_lm_recipe import build_vision_lm, set_trainable
from vlpk.models.presets import load_task
from vlpk.models.vision_lm.adapters import save_adapters

ADAPTERS_DIR = "adapters"
MERGED_FILE = "model.keras"
LM_PRESET_DIR = "llm_preset"


def _say(message):
    print(message, file=sys.stderr, flush=True)


def run_vision_lm(config, workdir, data_dir=None, verbose=2, callbacks=()):
    """Trains one stage, scores it on Shapes' test split; returns the metrics.

    Args:
        config: a `VisionLMConfig`.
        workdir: the run folder: `config.json`, `preset/` (the task with its
            preprocessor), `adapters/` (with `llm.tuning=lora`: the
            LM's LoRA adapters and the vision side, see
            `vlpk.models.vision_lm.adapters`), `model.keras` (merged), `eval/` (results
            files) and `metrics.json`.
        data_dir: the Shapes folder; `<workdir>/shapes` when None.
        verbose: `fit` verbosity.
        callbacks: more Keras callbacks for `fit` (one "epoch" per
            checkpoint interval with `optimization.checkpoint_every`).
    """
    config.validate()
    if config.distribution.deterministic:
        tf.config.experimental.enable_op_determinism()
    # First, before other TensorFlow ops: MultiWorkerMirroredStrategy sets up
    # its collectives at program start.
    devices = config.distribution.devices
    strategy = build_strategy(
        config.distribution.strategy, devices=devices.split(",") if devices else None
    )
    previous = keras.mixed_precision.global_policy().name
    set_precision(config.distribution.precision)
    try:
        return _run(config, strategy, workdir, data_dir, verbose, callbacks)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _run(config, strategy, workdir, data_dir, verbose, callbacks):
    start = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    _say(f"[1/5] Shapes data, {config.stage} pairs")
    data_dir = data_dir or os.path.join(workdir, "shapes")
    train, _, _ = read_splits(config, data_dir)
    record_data_dir(workdir, data_dir)
    pairs = shapes_pairs(train, read_shapes_vqa(data_dir, "train"), config.stage)
    task, parts = _build(config, strategy, pairs, workdir)
    history = _fit(config, task, strategy, pairs, workdir, verbose, callbacks)
    if not is_chief(strategy):
        # The workers trained in lockstep; only the chief writes and scores.
        _say("      not the chief worker: leaving saving and scoring to it")
        return {
            "stage": config.stage,
            "chief": False,
            "train_loss": history.get("loss", []),
        }
    _say(f"[4/5] Saving to {workdir}")
    _save(config, task, workdir)
    if is_multi_worker(strategy):
        # Generation outside the strategy: its collectives would wait for
        # the workers that are gone.
        task = load_task(os.path.join(workdir, PRESET_DIR))
    _say(f"[5/5] Generating and scoring {config.evaluate_images} test images")
    scores = evaluate_vision_lm(
        task, data_dir, "test", config.evaluate_images, os.path.join(workdir, "eval")
    )
    metrics = {
        "stage": config.stage,
        "trainable": parts,
        "pairs": len(pairs["prompts"]),
        "train_loss": history.get("loss", []),
        "train_accuracy": history.get("sparse_categorical_accuracy", []),
        **scores,
        "seconds": round(time.perf_counter() - start, 1),
    }
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def _build(config, strategy, pairs, workdir):
    """Stage 2: the task (new, or the earlier stage's) and what trains."""
    with strategy.scope():
        if config.init_from:
            _say(f"[2/5] Loading the earlier stage: {config.init_from}")
            task = load_task(_preset(config.init_from))
        else:
            lm = config.llm.preset or config.llm.family
            _say(f"[2/5] Building the model (LM: {lm})")
            task = build_vision_lm(
                config,
                _texts(pairs),
                os.path.join(workdir, LM_PRESET_DIR),
                strategy=strategy,
            )
        parts = set_trainable(task, config)
        task.compile(
            optimizer=keras.optimizers.AdamW(
                config.optimization.learning_rate,
                weight_decay=config.optimization.weight_decay,
                clipnorm=1.0,
            ),
            sampler=config.llm.sampler,
            jit_compile=config.distribution.jit_compile,
        )
    trainable = sum(int(tf.size(w)) for w in task.trainable_weights)
    _say(
        f"      {task.count_params():,} parameters, {trainable:,} trainable "
        f"({parts}), {strategy.num_replicas_in_sync} replica(s)"
    )
    return task, parts


def _texts(pairs):
    """Each pair as the LM reads it: the prompt, a newline, the response."""
    return [f"{p}\n{r}" for p, r in zip(pairs["prompts"], pairs["responses"])]


def _preset(source):
    inner = os.path.join(source, PRESET_DIR)
    return inner if os.path.isdir(inner) else source


def _fit(config, task, strategy, pairs, workdir, verbose, callbacks):
    """Stage 3: `fit` on batches the task's own preprocessor made in `tf.data`.

    Under `multi_worker` the step runs on `DistributedTrainer` (one history
    value a step), and `checkpoint_every` is not applied yet, as for
    `vlpk pretrain`'s other objectives.
    """
    optimization = config.optimization
    steps = optimization.steps_per_epoch or max(
        1, len(pairs["prompts"]) // optimization.batch_size
    )
    every = optimization.checkpoint_every
    _say(
        f"[3/5] Training: {optimization.epochs} epochs x {steps} steps, batch "
        f"{optimization.batch_size}" + (f", checkpoint every {every}" if every else "")
    )

    preprocessor = task.preprocessor  # `preprocessed_inputs` takes it off

    def dataset():
        return pair_dataset(
            pairs,
            preprocessor,
            optimization.batch_size,
            seed=config.seed,
            repeat=True,
        )

    # Many workers checkpoint on `DistributedTrainer` (keras#20585).
    resumable_fit = every and not is_multi_worker(strategy)
    with preprocessed_inputs(task):
        if resumable_fit:
            history = fit_resumable(
                task,
                dataset,
                total_steps=steps * optimization.epochs,
                checkpoint_every=every,
                backup_dir=os.path.join(workdir, "backup"),
                callbacks=list(callbacks),
                verbose=verbose,
            )
        else:
            history = fit_epochs(
                task,
                strategy,
                dataset(),
                optimization.epochs,
                steps,
                callbacks=callbacks,
                verbose=verbose,
                jit_compile=config.distribution.jit_compile,
                checkpoint_dir=os.path.join(workdir, "backup") if every else None,
                checkpoint_every=every,
            )
    history = getattr(history, "history", history)
    return {k: [float(v) for v in values] for k, values in history.items()}


def _save(config, task, workdir):
    """The preset, the LoRA adapters on their own, and a merged `.keras`."""
    task.save_to_preset(os.path.join(workdir, PRESET_DIR))
    if config.stage == "instruct" and config.llm.tuning == "lora":
        save_adapters(task, os.path.join(workdir, ADAPTERS_DIR))
    task.save(os.path.join(workdir, MERGED_FILE))
