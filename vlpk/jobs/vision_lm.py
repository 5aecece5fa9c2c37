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
from vlpk.jobs.pretrain import absolute_shard_paths, preprocessed_inputs
from vlpk.jobs.resume import fit_resumable
from vlpk.jobs.run_dir import PRESET_DIR, record_data_dir
from vlpk.jobs.splits import read_splits, split_folder
from vlpk.jobs.vision_lm_data import (
    shapes_pairs,
    shapes_stage_pairs,
    shard_stage_pairs,
)
from vlpk.jobs.vision_lm_eval import evaluate_vision_lm
from vlpk.jobs.vision_lm_fit import fit_epochs, is_multi_worker
from vlpk.jobs.vision_lm_recipe import build_vision_lm, set_trainable
from vlpk.jobs.vision_lm_shard_eval import evaluate_conversations
from vlpk.jobs.vision_lm_shards import answer_count, open_conversations
from vlpk.models.presets import load_task
from vlpk.models.vision_lm.adapters import save_adapters

ADAPTERS_DIR = "adapters"
MERGED_FILE = "model.keras"
LM_PRESET_DIR = "llm_preset"


def _say(message):
    print(message, file=sys.stderr, flush=True)


def run_vision_lm(config, workdir, data_dir=None, verbose=2, callbacks=()):
    """Trains one stage and scores it on its test split; returns the metrics.

    The stage trains on Shapes' conversations, or, with `data.train` set,
    on LLaVA conversation shards (`vlpk data convert --format llava`):
    see `vlpk.jobs.vision_lm_shards`. Shapes' test split is scored on
    generated VQA answers, captions and POPE; a conversation test split on
    its teacher-forced loss and `evaluate_images` generated answers
    (`vlpk.jobs.vision_lm_shard_eval`).

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
    config = absolute_shard_paths(config)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    _say(f"[1/5] {config.data.label} data, {config.stage} pairs")
    pairs, data_dir, test = _stage_data(config, workdir, data_dir)
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
    scores = _evaluate(config, task, data_dir, test, workdir)
    metrics = {
        "stage": config.stage,
        "trainable": parts,
        "pairs": pairs.count,
        "train_loss": history.get("loss", []),
        "train_accuracy": history.get("sparse_categorical_accuracy", []),
        **scores,
        "seconds": round(time.perf_counter() - start, 1),
    }
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def _stage_data(config, workdir, data_dir):
    """Stage 1: `(StagePairs, Shapes folder or None, test ShardSplit or None)`."""
    if config.data.uses_shards:
        train = open_conversations(config.data.train)
        count = answer_count(train)
        test = _test_split(config.data)
        _say(
            f"      shards: train {train.path} ({len(train)} conversations, "
            f"{count} answers), streamed; test "
            + (f"{test.path} ({len(test)} conversations)" if test else "none")
        )
        return shard_stage_pairs(train, count), None, test
    data_dir = data_dir or os.path.join(workdir, "shapes")
    train, _, _ = read_splits(config, data_dir)
    record_data_dir(workdir, data_dir)
    pairs = shapes_pairs(train, read_shapes_vqa(data_dir, "train"), config.stage)
    return shapes_stage_pairs(pairs), data_dir, None


def _test_split(data):
    """`data.test`, else the `test` folder beside `data.train` if there is one.

    A LLaVA dataset often comes as one training file; with no test split
    the run trains and saves, and scores nothing.
    """
    folder = split_folder(data, "test")
    return open_conversations(folder, "data.test") if folder else None


def _evaluate(config, task, data_dir, test, workdir):
    """Stage 5: Shapes' reference scores, or a conversation test split's."""
    out_dir = os.path.join(workdir, "eval")
    if data_dir is not None:
        _say(f"[5/5] Generating and scoring {config.evaluate_images} test images")
        return evaluate_vision_lm(
            task, data_dir, "test", config.evaluate_images, out_dir
        )
    if test is None:
        _say("[5/5] No test split (data.test): nothing to score")
        return {"test": None}
    _say(
        f"[5/5] Scoring {test.path}: the loss on every pair, "
        f"{config.evaluate_images} generated answers"
    )
    scores = evaluate_conversations(
        task, test, config.evaluate_images, out_dir, config.name
    )
    return {"test": scores}


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
                pairs.texts(),
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
        1, pairs.count // optimization.batch_size
    )
    every = optimization.checkpoint_every
    _say(
        f"[3/5] Training: {optimization.epochs} epochs x {steps} steps, batch "
        f"{optimization.batch_size}" + (f", checkpoint every {every}" if every else "")
    )

    preprocessor = task.preprocessor  # `preprocessed_inputs` takes it off

    def dataset():
        return pairs.batches(preprocessor, optimization.batch_size, config.seed)

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
