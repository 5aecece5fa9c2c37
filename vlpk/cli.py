"""The `vlpk` command line. Each command parses, builds a config, calls vlpk.

Exit codes: 0 success, 2 bad input, 1 internal error.
"""

import argparse
import sys


def _quickstart(args):
    from vlpk.config import PretrainConfig, load_config
    from vlpk.quickstart import run_quickstart

    if args.config:
        config = load_config(args.config, smoke=args.smoke)
    else:
        config = PretrainConfig().smoke() if args.smoke else PretrainConfig()
    config = config.replace(
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        train_images=args.train_images,
        seed=args.seed,
    )
    run_quickstart(
        config,
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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="vlpk", description="Vision-language pretraining kit for Keras."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    q = commands.add_parser(
        "quickstart",
        help="pretrain, evaluate and export a dual encoder on synthetic Shapes",
    )
    q.add_argument("--workdir", default="runs/quickstart", help="run folder")
    q.add_argument("--export-dir", default="saved_models", help="TF Serving root")
    q.add_argument("--data-dir", default=None, help="Shapes cache (default: in run)")
    q.add_argument("--config", default=None, help="an experiment config .py file")
    q.add_argument("--smoke", action="store_true", help="a tiny run in seconds")
    q.add_argument("--epochs", type=_positive_int, default=None)
    q.add_argument("--steps-per-epoch", type=_positive_int, default=None)
    q.add_argument("--train-images", type=_positive_int, default=None)
    q.add_argument("--seed", type=int, default=None)
    q.set_defaults(run=_quickstart)
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
