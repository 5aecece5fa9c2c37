"""`vlpk finetune`: adapt a pretrained run to a downstream task, then score it.

Top to bottom, as a reader would do it by hand: read the run folder (config,
data, and the task in its preset) → build the downstream task on the
pretrained backbone (shared: nothing is copied) → `fit` → save the task as a
preset → predict on the test split → score with the field's metrics.
With `scratch=True` the same architecture starts from random weights and
trains for the same steps: the baseline that shows what pretraining buys.
"""

import json
import os
import shutil
import sys
import time

import keras

from vlpk.callbacks import CaptionBleu
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.formats.vqa_answers import answer_vocabulary
from vlpk.data.pipelines.pretraining import pretraining_dataset
from vlpk.data.shards.shard_splits import ShardSplit, caption_count, vqa_paths
from vlpk.data.synthetic import read_shapes_vqa
from vlpk.errors import InputError
from vlpk.jobs.recipes import build_losses, build_model, build_optimizer, captioner
from vlpk.jobs.run_dir import PRESET_DIR, load_run, record_data_dir
from vlpk.losses import CaptioningLoss
from vlpk.metrics.result_files import (
    caption_table,
    evaluate_caption_files,
    evaluate_vqa_files,
    vqa_table,
)
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models import (
    ContrastivePreprocessor,
    ImageCaptionerPreprocessor,
    VisionLanguagePreprocessor,
    VQAClassifierPreprocessor,
)
from vlpk.tasks import captioning, classify, retrieval, vqa
from vlpk.tasks.zero_shot import zero_shot_classification


def _say(message):
    print(message, file=sys.stderr, flush=True)


def run_finetune(config, run_dir, workdir, data_dir=None, scratch=False, verbose=2):
    """Fine-tunes `run_dir`'s model on `config.task` and returns the metrics.

    Args:
        config: a `vlpk.tasks.FinetuneConfig`.
        run_dir: a `vlpk pretrain` run folder.
        workdir: where the fine-tuned run goes: `preset/` (the task, with
            its preprocessor), `config.json` and `vocab.txt` (so it is a run
            folder too), `finetune.json`,
            `metrics.json` and the task's predictions (`vqa_results.json`,
            `caption_results.json`, in the official formats).
        data_dir: the run's data folder (see `load_run`).
        scratch: start from random weights instead of the run's.
        verbose: `fit` verbosity.

    Returns:
        The dict written to `metrics.json`.

    Example:
    >>> # Not run here: it needs a pretraining run folder and trains for minutes
    >>> # (tests/test_finetune.py runs each task on a smoke-sized run):
    >>> run_finetune(FinetuneConfig(task="vqa"), "runs/albef", "runs/albef_vqa")
    ... # doctest: +SKIP
    """
    config.validate()
    start = time.perf_counter()
    run = load_run(run_dir, data_dir)
    if os.path.abspath(workdir) == os.path.abspath(run.run_dir):
        raise InputError("--workdir must differ from --from: it would overwrite it.")
    keras.utils.set_random_seed(config.seed)
    _say(f"[1/4] Reading the run {run.run_dir} and its {run.config.data.label} data")
    if config.data.uses_shards:
        _say(f"      the task's own data: {config.data.train}")
        run = run.with_data(config.data, os.path.join(workdir, "data"))
    splits = run.splits()
    if scratch:
        _say("      from scratch: the run's architecture, random weights")
        source = build_model(run.config, run.tokenizer.vocabulary_size())
    else:
        source = run.load_task()
        # The job feeds batches preprocessed in tf.data, as `vlpk pretrain`.
        source.preprocessor = None
    os.makedirs(workdir, exist_ok=True)
    _write_run_files(run, config, workdir, scratch)
    task = _TASKS[config.task]
    _say(f"[2/4] Building the {config.task} model")
    metrics = task(config, run, source, splits, workdir, verbose)
    metrics.update(
        task=config.task,
        source=os.path.abspath(run.run_dir),
        pretrained=not scratch,
        seconds=round(time.perf_counter() - start, 1),
    )
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(finetune_table(metrics))
    return metrics


def _write_run_files(run, config, workdir, scratch):
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(run.config.to_dict(), f, indent=2)
    with open(os.path.join(workdir, "finetune.json"), "w") as f:
        json.dump(dict(config.to_dict(), scratch=scratch), f, indent=2)
    vocab = os.path.join(run.run_dir, "vocab.txt")
    if os.path.isfile(vocab):
        shutil.copyfile(vocab, os.path.join(workdir, "vocab.txt"))
    record_data_dir(workdir, run.data_dir)


def _fit(config, task, dataset, examples_per_epoch, workdir, verbose, **compile):
    """Compiles and fits `task` on preprocessed batches; returns the history.

    Args:
        compile: `loss` and the other `compile` arguments; `callbacks` too.
    """
    callbacks = compile.pop("callbacks", ())
    steps = config.steps_per_epoch or max(1, examples_per_epoch // config.batch_size)
    task.compile(optimizer=build_optimizer(config, steps * config.epochs), **compile)
    _say(f"[3/4] Fine-tuning: {config.epochs} epochs x {steps} steps")
    history = task.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=steps,
        shuffle=False,  # the datasets shuffle themselves, seeded
        verbose=verbose,
        callbacks=[
            *callbacks,
            keras.callbacks.TensorBoard(os.path.join(workdir, "logs")),
        ],
    )
    return {
        "steps": steps * config.epochs,
        "train_history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
    }


def _save_preset(task, preprocessor, workdir):
    """Writes `<workdir>/preset/`: the task with `preprocessor` attached, so
    it takes raw images and strings (`vlpk export --from`, `load_task`)."""
    task.preprocessor = preprocessor
    task.save_to_preset(os.path.join(workdir, PRESET_DIR))


def _preprocessor(run, cls=ContrastivePreprocessor, **kwargs):
    """A preprocessor of `cls` on the run's tokenizer and image preprocessing."""
    sequence_length = run.text_preprocessor.sequence_length
    return cls(run.tokenizer, run.image_preprocessor, sequence_length, **kwargs)


def _retrieval(config, run, source, splits, workdir, verbose):
    train, _, test = splits
    task = retrieval.retrieval_task(source, seed=config.seed)
    objectives = tuple(getattr(task, "objectives", ("contrastive",)))
    pretrain = run.config.replace(objectives={o: 1.0 for o in objectives})
    losses, weights, metrics = build_losses(pretrain)
    dataset = pretraining_dataset(
        train,
        run.image_preprocessor,
        run.text_preprocessor,
        objectives=objectives,
        batch_size=config.batch_size,
        seed=config.seed,
        repeat=True,
    )
    result = _fit(
        config,
        task,
        dataset,
        caption_count(train),
        workdir,
        verbose,
        loss=losses,
        loss_weights=weights,
        metrics=metrics or None,
    )
    if objectives == ("contrastive",):
        preprocessor = _preprocessor(run)
    else:
        preprocessor = _preprocessor(
            run, VisionLanguagePreprocessor, objectives=objectives
        )
    _save_preset(task, preprocessor, workdir)
    _say(f"[4/4] Retrieval on test ({len(test)} images)")
    rerank_k = config.rerank_k if "matching" in objectives else 0
    result.update(
        retrieval.retrieval_scores(
            task, test, run.image_preprocessor, run.text_preprocessor, rerank_k
        ),
        protocol=run.protocol("test"),
    )
    return result


def _classify(config, run, source, splits, workdir, verbose):
    train, _, test = splits
    class_names = run.class_names()
    # Zero-shot first: fine-tuning changes the shared image encoder.
    result = {
        "zero_shot": zero_shot_classification(
            source,
            test,
            class_names,
            run.image_preprocessor,
            run.text_preprocessor,
            templates=config.templates,
        )
    }
    task = classify.image_classifier(source, class_names, config.linear_probe)
    dataset = classify.labelled_image_dataset(
        train, run.image_preprocessor, config.batch_size, seed=config.seed, repeat=True
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    result.update(
        _fit(
            config,
            task,
            dataset,
            len(train),
            workdir,
            verbose,
            loss={"predictions": loss},
            metrics={"predictions": ["accuracy"]},
        )
    )
    _save_preset(task, _preprocessor(run), workdir)
    _say(f"[4/4] Classification on test ({len(test)} images)")
    mode = "linear_probe" if config.linear_probe else "finetuned"
    result[mode] = classify.classification_accuracy(task, test, run.image_preprocessor)
    result["class_names"] = list(class_names)
    return result


def _vqa_splits(config, run):
    """`(train, test, questions file, annotations file)` of the VQA task."""
    if run.config.data.uses_shards:
        train, _, test = run.splits()
        return (train, test, *vqa_paths(os.path.join(run.data_dir, "test")))
    if config.vqa_train_questions:
        train = read_vqa(
            config.vqa_train_questions,
            config.vqa_train_annotations,
            config.vqa_train_images,
        )
        test = read_vqa(
            config.vqa_test_questions,
            config.vqa_test_annotations,
            config.vqa_test_images,
        )
        return train, test, config.vqa_test_questions, config.vqa_test_annotations
    return (
        read_shapes_vqa(run.data_dir, "train"),
        read_shapes_vqa(run.data_dir, "test"),
        run.shapes_file("test", "questions"),
        run.shapes_file("test", "annotations"),
    )


def _vqa(config, run, source, splits, workdir, verbose):
    train, test, questions, annotations = _vqa_splits(config, run)
    vocabulary = _answer_vocabulary(train, config.top_answers)
    # Also in the task's config; a plain list here for other tools.
    with open(os.path.join(workdir, "answers.json"), "w") as f:
        json.dump(vocabulary, f, indent=1)
    _say(f"      {_questions(train)} train questions, {len(vocabulary)} answers")
    task = vqa.vqa_task(source, vocabulary, dropout=config.head_dropout)
    dataset = vqa.vqa_dataset(
        train,
        vocabulary,
        run.image_preprocessor,
        run.text_preprocessor,
        config.batch_size,
        seed=config.seed,
        repeat=True,
    )
    result = _fit(config, task, dataset, _questions(train), workdir, verbose)
    _save_preset(task, _preprocessor(run, VQAClassifierPreprocessor), workdir)
    _say(f"[4/4] VQA on test ({len(test)} questions)")
    answers = vqa.predict_answers(
        task, test, vocabulary, run.image_preprocessor, run.text_preprocessor
    )
    path = os.path.join(workdir, "vqa_results.json")
    with open(path, "w") as f:
        json.dump(answers, f)
    result["vqa"] = evaluate_vqa_files(path, questions, annotations)
    result["answers"] = len(vocabulary)
    return result


def _answer_vocabulary(train, top_answers):
    """The `top_answers` most frequent answers of the train split: counted
    here for a list, read from the converter's file for shards."""
    if not isinstance(train, ShardSplit):
        return answer_vocabulary(train, top_answers)
    path = os.path.join(train.path, train.manifest.get("answer_vocabulary", ""))
    if not os.path.isfile(path):
        raise InputError(
            f"{train.path} has no answer vocabulary: convert VQA data with "
            "`vlpk data convert --format vqa`."
        )
    with open(path, encoding="utf-8") as f:
        answers = [line.rstrip("\n") for line in f if line.strip()]
    return answers[:top_answers]


def _questions(train):
    """Questions in the train split (a shards manifest counts those read)."""
    if isinstance(train, ShardSplit):
        return int(train.manifest.get("questions_read", len(train)))
    return len(train)


def _caption(config, run, source, splits, workdir, verbose):
    train, val, test = splits
    task = captioner(source, run.config, run.tokenizer.vocabulary_size())
    dataset = captioning.caption_dataset(
        train,
        run.image_preprocessor,
        run.text_preprocessor,
        config.batch_size,
        seed=config.seed,
        repeat=True,
    )
    result = _fit(
        config,
        task,
        dataset,
        caption_count(train),
        workdir,
        verbose,
        loss={"captioning": CaptioningLoss()},
        metrics={"captioning": [MaskedTokenAccuracy()]},
        callbacks=[
            CaptionBleu(val, run.image_preprocessor, run.tokenizer, config.bleu_every)
        ],
    )
    _save_preset(task, _preprocessor(run, ImageCaptionerPreprocessor), workdir)
    _say(f"[4/4] Captioning the test split ({len(test)} images)")
    kwargs = {"num_beams": config.num_beams} if config.caption_sampler == "beam" else {}
    results = captioning.caption_results(
        task,
        test,
        run.image_preprocessor,
        run.tokenizer,
        config.caption_sampler,
        **kwargs,
    )
    path = os.path.join(workdir, "caption_results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    result["caption"] = evaluate_caption_files(path, run.caption_references("test"))
    result["protocol"] = run.protocol("test")
    result["caption_samples"] = results[:5]
    return result


_TASKS = {
    "retrieval": _retrieval,
    "classify": _classify,
    "vqa": _vqa,
    "caption": _caption,
}


def finetune_table(metrics):
    """The table `vlpk finetune` prints."""
    source = "pretrained" if metrics["pretrained"] else "from scratch"
    lines = ["", f"{metrics['task']} ({source}, {metrics['steps']} steps)"]
    lines += task_rows(metrics)
    lines.append(f"  time: {metrics['seconds']:.0f} s")
    return "\n".join(lines)


def task_rows(metrics):
    """The table rows of whichever task results `metrics` holds."""
    rows = [f"  on {metrics['protocol']}"] if "protocol" in metrics else []
    for name in ("contrastive", "reranked"):
        if name in metrics:
            r = metrics[name]
            label = (
                name
                if name == "contrastive"
                else f"re-ranked top {metrics['rerank_k']}"
            )
            rows.append(
                f"  retrieval, {label}: i2t R@1/5/10 {r['i2t_r1']:.1f}/"
                f"{r['i2t_r5']:.1f}/{r['i2t_r10']:.1f}, t2i R@1/5/10 "
                f"{r['t2i_r1']:.1f}/{r['t2i_r5']:.1f}/{r['t2i_r10']:.1f}, median "
                f"rank {r['i2t_median_rank']:.0f}/{r['t2i_median_rank']:.0f}"
            )
    for name, label in (
        ("zero_shot", "zero-shot"),
        ("finetuned", "fine-tuned"),
        ("linear_probe", "linear probe"),
    ):
        if name in metrics:
            r = metrics[name]
            top5 = f", top-5 {r['top5']:.1f}%" if "top5" in r else ""
            rows.append(
                f"  {label} top-1 {r['top1']:.1f}%{top5} ({r['classes']} classes)"
            )
    if "vqa" in metrics:
        rows.append(vqa_table(metrics["vqa"]))
    if "caption" in metrics:
        rows.append(caption_table(metrics["caption"]))
    return rows
