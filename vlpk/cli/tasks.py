"""The `vlpk finetune` and `vlpk evaluate` commands: parse, then call vlpk.

Each command prints a table and, with `--json OUT`, writes its figures.
"""

import json
import os


def _write_json(path, result):
    if path:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, path)  # never a half-written file


def _finetune(args):
    from vlpk.config import load_config
    from vlpk.errors import InputError
    from vlpk.jobs.finetune import run_finetune
    from vlpk.jobs.task_runs import finetune_task, task_preset_path
    from vlpk.tasks import FinetuneConfig

    if args.config:
        config = load_config(args.config, smoke=args.smoke)
        if not isinstance(config, FinetuneConfig):
            raise InputError(
                f"{args.config} defines a {type(config).__name__}; vlpk finetune "
                "needs a vlpk.tasks.FinetuneConfig (see training/configs/"
                "finetune_*.py)."
            )
    else:
        config = FinetuneConfig()
        config = config.smoke() if args.smoke else config
    config = config.override(args.set or [])
    config = config.replace(
        task=args.task, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch
    )
    workdir = args.workdir or os.path.join(
        os.path.dirname(os.path.abspath(args.source)),
        f"{os.path.basename(os.path.normpath(args.source))}_{config.task}"
        + ("_scratch" if args.scratch else ""),
    )
    if task_preset_path(args.source) is not None:
        if args.scratch:
            raise InputError("--scratch needs a `vlpk pretrain` run folder.")
        metrics = finetune_task(
            config, args.source, workdir, data_dir=args.data_dir, smoke=args.smoke
        )
        return _report(args, metrics)
    metrics = run_finetune(
        config, args.source, workdir, data_dir=args.data_dir, scratch=args.scratch
    )
    _write_json(args.json, metrics)
    return 0


def _evaluate_task(args, kind, templates=None):
    """`vlpk evaluate` on a task preset, or None for a config-built run."""
    from vlpk.jobs.task_runs import evaluate_task_source, task_preset_path

    if task_preset_path(args.source) is None:
        return None
    result = evaluate_task_source(
        args.source, kind, args.split, args.data_dir, templates
    )
    return _report(args, result)


def _evaluate_retrieval(args):
    from vlpk.tasks.retrieval import captions_protocol, retrieval_scores

    if (done := _evaluate_task(args, "retrieval")) is not None:
        return done
    run, examples = _run_split(args)
    examples, protocol = captions_protocol(
        examples, run.protocol(args.split), args.captions_per_image
    )
    result = retrieval_scores(
        run.load_task(),
        examples,
        run.image_preprocessor,
        run.text_preprocessor,
        rerank_k=args.rerank_k or None,
    )
    result.update(
        split=args.split,
        images=len(examples),
        captions=sum(len(e.captions) for e in examples),
        protocol=protocol,
    )
    return _report(args, result)


def _evaluate_zeroshot(args):
    from vlpk.errors import InputError
    from vlpk.tasks.zero_shot import TEMPLATES, zero_shot_classification

    templates = _templates(args) or TEMPLATES
    if (done := _evaluate_task(args, "zeroshot", templates)) is not None:
        return done
    if args.data:
        return _evaluate_zeroshot_on(args, templates)
    run, examples = _run_split(args)
    task = run.load_task()
    if not hasattr(task.backbone, "get_text_embeddings"):
        raise InputError(
            f"{run.run_dir}'s {type(task.backbone).__name__} has no text "
            "tower: zero-shot needs a pretrained or retrieval run."
        )
    class_names = run.class_names()
    result = zero_shot_classification(
        task,
        examples,
        class_names,
        run.image_preprocessor,
        run.text_preprocessor,
        templates=templates,
    )
    result["split"] = args.split
    return _report(args, {"zero_shot": result})


def _templates(args):
    """The zero-shot templates of `--templates` ("|"-separated) and of
    `--templates-file` (one a line), in that order; empty when neither."""
    from vlpk.errors import InputError

    templates = [t for t in (args.templates or "").split("|") if t.strip()]
    if args.templates_file:
        try:
            with open(args.templates_file, encoding="utf-8") as f:
                templates += [line.strip() for line in f if line.strip()]
        except OSError as error:
            raise InputError(f"--templates-file: {error}") from error
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise InputError(
            f"Each template needs exactly one '{{}}' for the class name: {bad}."
        )
    return tuple(templates)


def _evaluate_zeroshot_on(args, templates):
    """Zero-shot on `--data`, a labelled split folder: its class names, its
    images unpacked under `--data-dir` (default `<run>/eval_data/<folder>`)."""
    import os

    from vlpk.data.shards.shard_splits import read_manifest, unpack_split
    from vlpk.errors import InputError
    from vlpk.jobs.run_dir import load_run
    from vlpk.tasks.zero_shot import zero_shot_classification

    run = load_run(args.source)
    manifest = read_manifest(args.data, "--data")
    if "class_names" not in manifest:
        raise InputError(
            f"--data {args.data} is not labelled data: convert it with `vlpk "
            "data convert --format imagefolder` or `--format labels_csv`."
        )
    folder = os.path.basename(os.path.normpath(args.data))
    cache = args.data_dir or os.path.join(run.run_dir, "eval_data", folder)
    result = zero_shot_classification(
        run.load_task(),
        unpack_split(args.data, cache, "--data"),
        manifest["class_names"],
        run.image_preprocessor,
        run.text_preprocessor,
        templates=templates,
    )
    result["data"] = os.path.abspath(args.data)
    return _report(args, {"zero_shot": result})


def _run_split(args):
    from vlpk.errors import InputError
    from vlpk.jobs.run_dir import load_run

    run = load_run(args.source, args.data_dir)
    names = ("train", "val", "test")
    if args.split not in names:
        raise InputError(f"--split must be one of {names}.")
    if args.split == "train" and run.config.data.uses_shards:
        raise InputError(
            "The run's train split is streamed from shards, never unpacked: "
            "evaluate --split val or --split test."
        )
    return run, run.splits()[names.index(args.split)]


def _evaluate_vqa(args):
    from vlpk.metrics.result_files import evaluate_vqa_files, vqa_table

    result = evaluate_vqa_files(args.predictions, args.questions, args.annotations)
    print(vqa_table(result))
    _write_json(args.json, result)
    return 0


def _evaluate_caption(args):
    from vlpk.metrics.result_files import caption_table, evaluate_caption_files

    result = evaluate_caption_files(args.predictions, args.references)
    print(caption_table(result))
    _write_json(args.json, result)
    return 0


def _evaluate_pope(args):
    from vlpk.metrics.pope import evaluate_pope_files, pope_table

    result = evaluate_pope_files(args.predictions, args.questions)
    print(pope_table(result))
    _write_json(args.json, result)
    return 0


def _report(args, result):
    from vlpk.jobs.finetune import task_rows

    print("\n".join(task_rows(result)))
    _write_json(args.json, result)
    return 0


def add_finetune_command(commands):
    from vlpk.tasks import TASKS

    command = commands.add_parser(
        "finetune", help="fine-tune a pretrained run on a downstream task"
    )
    add = command.add_argument
    add("--task", required=True, choices=TASKS)
    add(
        "--from",
        dest="source",
        required=True,
        help="a vlpk pretrain run folder, a task preset folder, or a KerasHub "
        "CLIP/SigLIP preset (folder or name)",
    )
    add("--config", help="a fine-tuning config .py file (training/configs/finetune_*)")
    add("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    add("--workdir", default=None, help="output run folder (default RUN_DIR_<task>)")
    add("--data-dir", default=None, help="the run's data folder")
    add("--scratch", action="store_true", help="random weights: the baseline")
    add("--smoke", action="store_true", help="a tiny run in seconds")
    add("--epochs", type=int, default=None)
    add("--steps-per-epoch", type=int, default=None)
    add("--json", default=None, help="also write the metrics here")
    command.set_defaults(run=_finetune)


def add_evaluate_command(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a run, or a predictions file, with the standard metrics"
    ).add_subparsers(dest="evaluate_command", required=True)

    def run_command(name, help, run):
        command = evaluate.add_parser(name, help=help)
        command.add_argument(
            "--from", dest="source", required=True, help="a run or preset folder"
        )
        command.add_argument("--split", default="test")
        command.add_argument("--data-dir", default=None)
        command.add_argument("--json", default=None, help="also write the figures here")
        command.set_defaults(run=run)
        return command

    retrieval = run_command(
        "retrieval", "image<->text Recall@K of a run", _evaluate_retrieval
    )
    retrieval.add_argument(
        "--rerank-k", type=int, default=0, help="re-rank the top k with the ITM head"
    )
    retrieval.add_argument(
        "--captions-per-image",
        type=int,
        default=None,
        help="keep each image's first N captions (5: VSE++/SCAN's 25,000-caption "
        "COCO 5k test); default: all of them (ALBEF/BLIP's 25,010)",
    )
    zeroshot = run_command(
        "zeroshot", "zero-shot classification of a run", _evaluate_zeroshot
    )
    zeroshot.add_argument("--templates", help='"a photo of a {}.|a {}." (| separates)')
    zeroshot.add_argument("--templates-file", help="a file of templates, one a line")
    zeroshot.add_argument(
        "--data",
        help="a labelled split folder of `vlpk data convert` (imagefolder, "
        "labels_csv) to score instead of the run's own split",
    )

    vqa = evaluate.add_parser("vqa", help="official VQA accuracy of a results file")
    vqa.add_argument("--predictions", required=True, help='[{"question_id", "answer"}]')
    vqa.add_argument("--questions", required=True, help="VQA v2 questions JSON")
    vqa.add_argument("--annotations", required=True, help="VQA v2 annotations JSON")
    vqa.add_argument("--json", default=None, help="also write the figures here")
    vqa.set_defaults(run=_evaluate_vqa)

    pope = evaluate.add_parser("pope", help="POPE object hallucination of answers")
    pope.add_argument(
        "--predictions", required=True, help='[{"question_id", "answer"}]'
    )
    pope.add_argument("--questions", required=True, help="a POPE question .jsonl file")
    pope.add_argument("--json", default=None, help="also write the figures here")
    pope.set_defaults(run=_evaluate_pope)

    caption = evaluate.add_parser("caption", help="COCO caption metrics of results")
    caption.add_argument(
        "--predictions", required=True, help='[{"image_id", "caption"}]'
    )
    caption.add_argument("--references", required=True, help="COCO captions JSON")
    caption.add_argument("--json", default=None, help="also write the figures here")
    caption.set_defaults(run=_evaluate_caption)
