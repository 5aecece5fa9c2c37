"""The `vlpk` command line. Each command parses, builds a config, calls vlpk.

Exit codes: 0 success, 2 bad input, 1 internal error.
"""

import argparse
import sys


def _config(args):
    from vlpk.config import PretrainConfig, load_config

    if args.config:
        config = load_config(args.config, smoke=args.smoke)
    else:
        config = PretrainConfig().smoke() if args.smoke else PretrainConfig()
    config = config.override(args.set or [])
    return config.replace(
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        train_images=args.train_images,
        seed=args.seed,
    )


def _pretrain(args):
    from vlpk.pretrain import run_pretrain

    run_pretrain(
        _config(args),
        workdir=args.workdir,
        export_root=args.export_dir,
        data_dir=args.data_dir,
    )
    return 0


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
        help="override a config field (repeatable), e.g. --set strategy=mirrored",
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
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)  # exits 2 on a bad flag
    from vlpk.errors import InputError

    try:
        return args.run(args)
    except (InputError, FileExistsError) as error:
        print(f"vlpk {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vlpk {args.command}: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
