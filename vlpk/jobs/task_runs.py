"""`vlpk finetune`, `evaluate` and `export` on a task preset.

The source is a preset: a folder written by a vlpk task's `save_to_preset`,
a run folder holding one in `preset/`, or a KerasHub CLIP or SigLIP preset
(a folder, or a name when there is network or a cache). The task carries its
preprocessor, so these jobs feed it raw image bytes and strings: nothing is
rebuilt from a config, and no weight is copied by name. With no data given,
Shapes is generated and used, as by `vlpk pretrain`.
"""

import json
import os
import sys
import time

import keras

from vlpk.data.pipelines.pipeline import caption_pairs
from vlpk.data.pipelines.raw import labelled_image_dataset, raw_pair_dataset
from vlpk.data.synthetic import read_labels, read_shapes, shapes_paths, write_shapes
from vlpk.errors import InputError
from vlpk.jobs.run_dir import PRESET_DIR, record_data_dir, recorded_data_dir
from vlpk.models import ZeroShotImageClassifier
from vlpk.models.presets import is_task_preset, load_task
from vlpk.tasks.retrieval import retrieval_scores
from vlpk.tasks.zero_shot import classification_summary

# Shapes images per split: the quickstart's, and a smoke run's.
SHAPES_SIZES = {"train": 2000, "val": 200, "test": 500}
SMOKE_SHAPES_SIZES = {"train": 24, "val": 8, "test": 8}


def _say(message):
    print(message, file=sys.stderr, flush=True)


def task_preset_path(source):
    """`source`'s task preset folder, or the KerasHub preset name it is.

    Returns None when `source` is a vlpk run folder without a task preset
    (the jobs then read it as a config-built run).
    """
    source = os.fspath(source)
    if is_task_preset(source):
        return source
    if os.path.isfile(os.path.join(source, "config.json")):
        # A `vlpk pretrain` run: its config names its data and the jobs it
        # supports (re-ranking, VQA and captioning heads); `<run>/preset` is
        # the task to pass for the preset jobs.
        return None
    inner = os.path.join(source, PRESET_DIR)
    if is_task_preset(inner):
        return inner
    if os.path.exists(source) or os.sep in source or source.startswith("."):
        return None
    return source  # a KerasHub preset name or handle


def shapes_splits(data_dir, smoke=False, seed=0):
    """`(train, val, test)` Shapes examples in `data_dir`.

    A folder that already holds Shapes (a run's) is read as it is, whatever
    its sizes; otherwise it is generated.
    """
    _say(f"      Shapes in {data_dir}")
    if not os.path.isfile(shapes_paths(data_dir, "test")["captions"]):
        sizes = SMOKE_SHAPES_SIZES if smoke else SHAPES_SIZES
        write_shapes(data_dir, seed=seed, splits=sizes)
    return tuple(read_shapes(data_dir, split) for split in ("train", "val", "test"))


def zero_shot_classifier(task, class_names, templates=None):
    """A `ZeroShotImageClassifier` on `task`'s backbone (shared), prompts embedded."""
    kwargs = {"templates": tuple(templates)} if templates else {}
    classifier = ZeroShotImageClassifier(
        task.backbone, class_names, task.preprocessor, **kwargs
    )
    classifier.embed_class_names()
    return classifier


def classifier_scores(classifier, examples):
    """Top-k and per-class accuracy of an image classifier task on `examples`."""
    logits = classifier.predict(
        labelled_image_dataset(examples, 64, shuffle=False).map(lambda x, y: x),
        verbose=0,
    )
    labels = [e.label for e in examples]
    result = classification_summary(logits, labels, classifier.class_names)
    result["templates"] = len(classifier.templates)
    return result


def evaluate_task(task, examples, kind, class_names=None, templates=None):
    """Retrieval Recall@K or zero-shot accuracy of `task` on `examples`.

    The task's own preprocessor decodes and tokenizes, as in serving.
    """
    if kind == "retrieval":
        preprocessor = task.preprocessor
        return retrieval_scores(
            task.backbone,
            examples,
            preprocessor.preprocess_images,
            preprocessor.preprocess_text,
        )
    classifier = zero_shot_classifier(task, class_names, templates)
    return {"zero_shot": classifier_scores(classifier, examples)}


def shapes_class_names(data_dir, split="test"):
    """The Shapes class names, indexed by label."""
    return read_labels(shapes_paths(data_dir, split)["labels"])[0]


def finetune_task(config, source, workdir, data_dir=None, smoke=False, verbose=2):
    """Fine-tunes the task preset `source` on Shapes; returns the metrics.

    `retrieval` fine-tunes the contrastive task itself; `classify` builds a
    `ZeroShotImageClassifier` on its backbone, scores it zero-shot, then
    fine-tunes it on the labels (the backbone frozen with `linear_probe`).

    Args:
        config: a `vlpk.tasks.FinetuneConfig` (`task` is `retrieval` or
            `classify`).
        source: a task preset folder, a run folder with `preset/`, or a
            KerasHub CLIP or SigLIP preset (folder or name).
        workdir: the new run folder: `preset/` (the fine-tuned task),
            `finetune.json`, `metrics.json`, `run.json`.
        data_dir: the Shapes folder; `<workdir>/shapes` when None.
        smoke: a few Shapes images per split instead of the quickstart's.
        verbose: `fit` verbosity.
    """
    config.validate()
    if config.task not in _FINETUNE:
        raise InputError(
            f"From a preset, vlpk finetune runs --task {' or '.join(_FINETUNE)}; "
            f"--task {config.task} needs a `vlpk pretrain` run folder."
        )
    start = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    _say(f"[1/4] Loading the task preset {source}")
    task = load_task(task_preset_path(source) or source)
    data_dir = data_dir or os.path.join(workdir, "shapes")
    splits = shapes_splits(data_dir, smoke, config.seed)
    task, metrics, history = _FINETUNE[config.task](
        config, task, splits, data_dir, verbose
    )
    _say(f"[4/4] Saving the task preset to {workdir}/{PRESET_DIR}")
    save_task_run(task, workdir, config, data_dir)
    metrics.update(
        task=config.task,
        source=source,
        train_loss=[float(v) for v in history.history["loss"]],
        seconds=round(time.perf_counter() - start, 1),
    )
    _write_json(os.path.join(workdir, "metrics.json"), metrics)
    return metrics


def _fit(config, task, dataset, steps, verbose):
    _say(f"[2/4] Fine-tuning: {config.epochs} epochs x {steps} steps")
    task.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate, weight_decay=config.weight_decay
        )
    )
    return task.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=steps,
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself, deterministically
    )


def _finetune_retrieval(config, task, splits, data_dir, verbose):
    train, _, test = splits
    pairs = len(caption_pairs(train)["caption"])
    steps = config.steps_per_epoch or pairs // config.batch_size
    dataset = raw_pair_dataset(train, config.batch_size, seed=config.seed, repeat=True)
    history = _fit(config, task, dataset, steps, verbose)
    _say(f"[3/4] Evaluating retrieval on test ({len(test)} images)")
    return task, evaluate_task(task, test, "retrieval"), history


def _finetune_classify(config, task, splits, data_dir, verbose):
    train, _, test = splits
    classifier = zero_shot_classifier(
        task, shapes_class_names(data_dir, "train"), config.templates
    )
    zero_shot = classifier_scores(classifier, test)
    # A linear probe trains the head alone (batch-norm statistics frozen too).
    classifier.backbone.trainable = not config.linear_probe
    steps = config.steps_per_epoch or max(1, len(train) // config.batch_size)
    dataset = labelled_image_dataset(
        train, config.batch_size, seed=config.seed, repeat=True
    )
    history = _fit(config, classifier, dataset, steps, verbose)
    _say(f"[3/4] Evaluating classification on test ({len(test)} images)")
    key = "linear_probe" if config.linear_probe else "finetuned"
    metrics = {"zero_shot": zero_shot, key: classifier_scores(classifier, test)}
    return classifier, metrics, history


_FINETUNE = {"retrieval": _finetune_retrieval, "classify": _finetune_classify}


def save_task_run(task, workdir, config, data_dir):
    """Writes the run folder of a task: its preset, config and data folder."""
    os.makedirs(workdir, exist_ok=True)
    task.save_to_preset(os.path.join(workdir, PRESET_DIR))
    _write_json(os.path.join(workdir, "finetune.json"), config.to_dict())
    record_data_dir(workdir, data_dir)


def data_dir_of(source, data_dir=None):
    """The Shapes folder for `source`: given, recorded by its run, or beside it."""
    recorded = recorded_data_dir(source)
    if data_dir or recorded:
        return data_dir or recorded
    # Beside a bare preset (never inside the user's folder), or here for a
    # preset name.
    if not os.path.isdir(source):
        return "shapes"
    return os.path.join(os.path.dirname(os.path.abspath(source)), "shapes")


def _write_json(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)  # never a half-written file


def evaluate_task_source(source, kind, split="test", data_dir=None, templates=None):
    """`vlpk evaluate retrieval|zeroshot` on a task preset (Shapes data)."""
    task = load_task(task_preset_path(source) or source)
    data_dir = data_dir_of(source, data_dir)
    names = ("train", "val", "test")
    if split not in names:
        raise InputError(f"--split must be one of {names}.")
    examples = shapes_splits(data_dir)[names.index(split)]
    class_names = shapes_class_names(data_dir, split) if kind == "zeroshot" else None
    result = evaluate_task(task, examples, kind, class_names, templates)
    result.update(split=split, images=len(examples))
    return result
