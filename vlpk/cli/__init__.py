"""The `vlpk` command line. Each command parses, builds a config, calls vlpk.

Exit codes: 0 success, 2 bad input, 1 internal error.
"""

import argparse
import json
import os
import sys

from vlpk.cli.export import add_export_commands
from vlpk.cli.tasks import add_evaluate_command, add_finetune_command
from vlpk.jobs.vision_lm_summary import vision_lm_summary


def _config(args):
    from vlpk.config import PretrainConfig, load_config

    if args.config:
        config = load_config(args.config, smoke=args.smoke)
    else:
        config = PretrainConfig().smoke() if args.smoke else PretrainConfig()
    config = config.override(args.set or [])
    return config.replace(
        **{
            "optimization.epochs": args.epochs,
            "optimization.steps_per_epoch": args.steps_per_epoch,
            "data.train_images": args.train_images,
        },
        seed=args.seed,
    )


def _pretrain(args):
    from vlpk.config.vision_lm import VisionLMConfig
    from vlpk.jobs.pretrain import run_pretrain
    from vlpk.jobs.vision_lm import run_vision_lm

    config = _config(args)
    if isinstance(config, VisionLMConfig):
        metrics = run_vision_lm(config, args.workdir, data_dir=args.data_dir)
        print(json.dumps(vision_lm_summary(metrics), indent=2))
        return 0
    run_pretrain(
        config,
        workdir=args.workdir,
        export_root=args.export_dir,
        data_dir=args.data_dir,
    )
    return 0


def _convert(args):
    from vlpk.errors import InputError

    options = dict(
        split=args.split,
        strict=args.strict,
        image_column=args.image_column,
        caption_column=args.caption_column,
        label_column=args.label_column,
        shard_size=args.shard_size,
        compression=args.compression,
        workers=args.workers,
        max_pixels=args.max_pixels,
        max_words=args.max_words,
        split_long=args.split_long,
    )
    if args.runner == "beam":
        # Beam is an optional extra: imported only here, it says how to get it.
        from vlpk.data.shards.convert_beam import convert_dataset_beam as convert

        options["pipeline_options"] = args.beam_options
    elif args.beam_options is not None:
        raise InputError("--beam-options needs --runner beam.")
    else:
        from vlpk.data.formats.registry import convert_dataset as convert

        options["top_answers"] = args.top_answers
    manifest = convert(args.format, args.annotations, args.images, args.out, **options)
    # Karpathy without --split: one folder per split, each named here.
    for split in manifest.get("splits", ()):
        folder = os.path.join(args.out, split["dir"])
        print(f"{split['split']}: {split['examples']} examples in {folder}")
    print(
        f"{manifest['examples']} examples written, {len(manifest['skipped'])} "
        f"skipped: {args.out}/manifest.json"
    )
    return 0


def _add_convert_arguments(command):
    from vlpk.data.formats.registry import FORMATS
    from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS

    add = command.add_argument
    add("--format", required=True, choices=FORMATS, help="the source format")
    add("--images", required=True, help="the folder the image paths are relative to")
    add(
        "--annotations",
        nargs="+",
        help="annotation file (vqa: questions file, then annotations file; "
        "imagefolder: none)",
    )
    add("--out", required=True, help="output folder for shards and manifest.json")
    add("--strict", action="store_true", help="exit 2 at the first bad record")
    add(
        "--split",
        default=None,
        help="the split's name (default train); karpathy: the splits to merge, "
        "e.g. train,restval (default: one folder per split)",
    )
    add("--shard-size", type=_positive_int, default=1000, help="examples per shard")
    add("--compression", choices=["gzip"], default=None)
    add("--workers", type=_positive_int, default=None, help="image-check threads")
    add("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS)
    add("--max-words", type=_positive_int, default=128, help="longer captions are cut")
    add("--split-long", action="store_true", help="split long captions instead")
    add("--top-answers", type=_positive_int, default=3129, help="vqa answer vocabulary")
    add("--image-column", default="image", help="csv: the image path column")
    add("--caption-column", default="caption", help="csv: the caption column")
    add("--label-column", default="label", help="labels_csv: the class column")
    add(
        "--runner",
        choices=["threads", "beam"],
        default="threads",
        help="threads: a thread pool here (default); beam: an Apache Beam "
        'pipeline (pip install "vlpk[beam]"), same output',
    )
    add(
        "--beam-options",
        default=None,
        # Attached with "=": argparse would read a separate "--runner=..."
        # value as this command's own --runner.
        help='Beam pipeline flags, attached with "=": '
        '--beam-options="--runner=DirectRunner --direct_num_workers=2" '
        "(default: the DirectRunner)",
    )
    command.set_defaults(run=_convert)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_run_arguments(command, config_required):
    command.add_argument(
        "--config", required=config_required, help="an experiment config .py file"
    )
    command.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config field (repeatable), "
        "e.g. --set distribution.strategy=mirrored",
    )
    command.add_argument("--workdir", default="runs/quickstart", help="run folder")
    command.add_argument("--export-dir", default="saved_models", help="TF Serving root")
    command.add_argument("--data-dir", default=None, help="Shapes cache folder")
    command.add_argument("--smoke", action="store_true", help="a tiny run in seconds")
    command.add_argument("--epochs", type=_positive_int, default=None)
    command.add_argument("--steps-per-epoch", type=_positive_int, default=None)
    command.add_argument("--train-images", type=_positive_int, default=None)
    command.add_argument("--seed", type=int, default=None)
    command.set_defaults(run=_pretrain)


def _sample(args):
    from vlpk.data.shapes.samples import write_sample

    sample = write_sample(
        args.format, args.out, args.images, args.image_size, args.seed
    )
    print(
        f"wrote a {args.format} sample to {args.out}; convert it with:", file=sys.stderr
    )
    print(f"  {sample['convert']}", file=sys.stderr)
    print(json.dumps(sample))
    return 0


def _add_sample_arguments(command):
    from vlpk.data.shapes.samples import SAMPLE_FORMATS

    add = command.add_argument
    add("--format", required=True, choices=SAMPLE_FORMATS, help="the layout written")
    add("--out", required=True, help="the folder to write")
    add(
        "--images", type=_positive_int, default=48, help="train images (val, test: 1/4)"
    )
    add("--image-size", type=_positive_int, default=64, help="image side in pixels")
    add("--seed", type=int, default=0)
    command.set_defaults(run=_sample)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="vlpk", description="Vision-language pretraining kit for Keras."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_arguments(
        commands.add_parser(
            "quickstart",
            help="pretrain, evaluate and export a dual encoder on synthetic Shapes",
        ),
        config_required=False,
    )
    _add_run_arguments(
        commands.add_parser(
            "pretrain", help="pretrain from an experiment config (--set to override)"
        ),
        config_required=True,
    )
    data = commands.add_parser("data", help="dataset tools").add_subparsers(
        dest="data_command", required=True
    )
    _add_convert_arguments(
        data.add_parser(
            "convert", help="convert a dataset to TFRecord shards with a manifest"
        )
    )
    _add_sample_arguments(
        data.add_parser(
            "sample",
            help="write a tiny stand-in dataset (from Shapes) in a real format",
        )
    )
    add_finetune_command(commands)
    add_evaluate_command(commands)
    add_export_commands(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)  # exits 2 on a bad flag
    from vlpk.encoders.weights import WeightsUnavailableError
    from vlpk.errors import InputError

    try:
        return args.run(args)
    # Missing weights are bad input too: the message says how to pass a folder.
    except (InputError, FileExistsError, WeightsUnavailableError) as error:
        print(f"vlpk {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vlpk {args.command}: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
