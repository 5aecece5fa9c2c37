"""The `vlpk export` and `vlpk predict` commands: parse, then call vlpk."""

import json
import sys


def _export(args):
    from vlpk.jobs.export import export_run_tflite, export_task

    if args.tflite:
        path, manifest, warning = export_run_tflite(
            args.source, args.name, args.tflite, args.export_dir, args.overwrite
        )
        if warning:
            print(warning, file=sys.stderr)
        print(json.dumps({"path": path, **manifest}, indent=2))
        return 0
    path, signatures = export_task(
        args.source, args.name, args.export_dir, args.version, args.overwrite
    )
    print(json.dumps({"path": path, "signatures": signatures}))
    return 0


def _predict(args):
    from vlpk.export.predict import predict

    result = predict(
        args.model,
        args.image,
        texts=tuple(args.text or ()),
        question=args.question,
        caption=args.caption,
        prompt=args.prompt,
    )
    print(json.dumps(result, indent=2))
    return 0


def add_export_commands(commands):
    export = commands.add_parser(
        "export", help="a run's task as a versioned TF Serving SavedModel"
    )
    add = export.add_argument
    add(
        "--from",
        dest="source",
        required=True,
        help="a vlpk run folder, or a task preset folder",
    )
    add("--name", required=True, help="the model name: <export-dir>/<name>/<version>")
    add("--export-dir", default="saved_models", help="the TF Serving models root")
    add("--version", type=int, default=None, help="default: the next free version")
    add("--overwrite", action="store_true", help="replace an existing version")
    add(
        "--tflite",
        choices=("float32", "float16", "dynamic", "int8"),
        help="write TFLite encoders to <export-dir>/tflite/<name>/<variant>/ instead",
    )
    export.set_defaults(run=_export)

    predict = commands.add_parser(
        "predict",
        help="run one image (and texts, a question, or nothing: classes or its "
        "embedding) through an export",
    )
    add = predict.add_argument
    add("--model", required=True, help="saved_models/<name>/<version>")
    add("--image", required=True, help="a JPEG, PNG, GIF or BMP file")
    add("--text", action="append", help="a text to score (repeatable)")
    add("--question", default=None, help="a question (VQA exports)")
    add("--caption", action="store_true", help="generate a caption")
    add("--prompt", default=None, help="a prompt (vision-language LM exports)")
    predict.set_defaults(run=_predict)
