"""Reading back a run folder: its config, tokenizer, model and data.

`vlpk pretrain --workdir RUN_DIR` (and `vlpk finetune`) leave `config.json`,
`vocab.txt` (unless a preset's tokenizer was used) and the task's preset,
`preset/`, there;
`vlpk finetune --from RUN_DIR` and `vlpk evaluate ... --from RUN_DIR` start
from them, so the architecture, vocabulary and data match the run's.
"""

import dataclasses
import json
import os

from vlpk.config import PretrainConfig
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.shapes.reader import read_labels
from vlpk.data.shards.shard_splits import REFERENCES, read_manifest
from vlpk.data.synthetic import shapes_paths
from vlpk.errors import InputError
from vlpk.jobs.splits import read_splits, shard_folders, split_protocol
from vlpk.models.presets import load_task
from vlpk.text import (
    TextPreprocessor,
    load_vocabulary,
    tokenizer_from_preset,
    wordpiece_tokenizer,
)

# Where a run folder keeps its task preset.
PRESET_DIR = "preset"


@dataclasses.dataclass
class Run:
    """A run folder, read back. `data_dir` is where its Shapes data lives."""

    run_dir: str
    config: PretrainConfig
    tokenizer: object
    image_preprocessor: ImagePreprocessor
    text_preprocessor: TextPreprocessor
    data_dir: str

    def load_task(self):
        """The run's task, from its preset (`<run_dir>/preset`), with its
        preprocessor (see `vlpk.models.load_task`)."""
        path = os.path.join(self.run_dir, PRESET_DIR)
        if not os.path.isfile(os.path.join(path, "task.json")):
            raise InputError(
                f"{self.run_dir} has no preset/ folder: the run did not finish. "
                "Train it with `vlpk pretrain --workdir` first."
            )
        return load_task(path)

    def splits(self):
        """`(train, val, test)` `Example`s, as the run read them."""
        return read_splits(self.config, self.data_dir)

    def with_data(self, data, data_dir):
        """This run, reading other shards: `data` has `train` (and maybe
        `val`, `test`) split folders; val and test unpack under `data_dir`.

        A fine-tuning task on its own data (`FinetuneConfig.data`) reads it
        through the run as the run reads its own.
        """
        folders = {
            split: os.path.abspath(getattr(data, split))
            for split in ("train", "val", "test")
            if getattr(data, split)
        }
        # Fields a shards run does not read are reset, so nothing stale shows.
        config = self.config.replace(data={"name": "shapes", **folders})
        return dataclasses.replace(self, config=config, data_dir=data_dir)

    def class_names(self):
        """The class names of the run's classification data, in label order:
        the manifest's `class_names` for shards, Shapes' labels file else."""
        data = self.config.data
        if not data.uses_shards:
            return read_labels(self.shapes_file("train", "labels"))[0]
        manifest = read_manifest(shard_folders(data)["train"], "data.train")
        if "class_names" not in manifest:
            raise InputError(
                f"{data.train} has no class names: convert labelled data with "
                "`vlpk data convert --format imagefolder` or `--format "
                "labels_csv`."
            )
        return list(manifest["class_names"])

    def protocol(self, split="test"):
        """The benchmark a split of the run is, e.g. `karpathy-coco test`."""
        data = self.config.data
        if data.uses_shards:
            return split_protocol(data, split)
        if data.name == "coco":
            return "coco val (as test)" if split == "test" else f"coco {split}"
        return f"shapes {split}"

    def caption_references(self, split="test"):
        """The COCO-format captions file of a split, for pycocoevalcap."""
        data = self.config.data
        if data.uses_shards:
            return os.path.join(self.data_dir, split, REFERENCES)
        if data.name == "coco":
            if split == "train":
                return data.train_annotations
            return data.val_annotations  # COCO's val doubles as val and test
        return self.shapes_file(split, "captions")

    def shapes_file(self, split, kind):
        """A Shapes annotation file (`captions`, `questions`, `annotations`,
        `labels`); an `InputError` for a run on other data."""
        if self.config.data.label != "shapes":
            raise InputError(
                f"The run trained on {self.config.data.label!r}, which has no {kind} "
                "file vlpk knows of: pass the files in the fine-tuning config."
            )
        return shapes_paths(self.data_dir, split)[kind]


def load_run(run_dir, data_dir=None):
    """Reads `run_dir`'s config and tokenizer (the model loads on demand).

    Args:
        run_dir: a folder written by `vlpk pretrain` or `vlpk finetune`.
        data_dir: where the run's Shapes data is (generated again, the same,
            when missing); `<run_dir>/shapes` by default, as in `vlpk pretrain`.

    Example:
    >>> import tempfile
    >>> from vlpk.jobs.recipes import build_model
    >>> from vlpk.text import SPECIAL_TOKENS, save_vocabulary
    >>> run_dir = tempfile.mkdtemp()  # what `vlpk pretrain --workdir` leaves, in small
    >>> config = PretrainConfig().smoke()
    >>> with open(os.path.join(run_dir, "config.json"), "w") as f:
    ...     json.dump(config.to_dict(), f)
    >>> vocabulary = [*SPECIAL_TOKENS, "a", "red", "circle"]
    >>> save_vocabulary(vocabulary, os.path.join(run_dir, "vocab.txt"))
    >>> task = build_model(config, len(vocabulary))
    >>> task.save_to_preset(os.path.join(run_dir, PRESET_DIR))
    >>> run = load_run(run_dir)
    >>> run.config == config, run.tokenizer.vocabulary_size()
    (True, 8)
    >>> run.image_preprocessor.image_size, run.text_preprocessor.sequence_length
    ((64, 64), 20)
    >>> type(run.load_task()).__name__
    'ContrastivePretrainer'
    """
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise InputError(f"No run folder at {run_dir}.")
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InputError(
            f"{run_dir} is not a vlpk run folder: it has no config.json. Pass the "
            "--workdir of a `vlpk pretrain` run."
        ) from None
    except ValueError as error:
        raise InputError(f"{path} is not valid JSON: {error}") from None
    config = PretrainConfig.from_dict(data, source=path)
    if config.text.preset:
        tokenizer = tokenizer_from_preset(config.text.preset)
    else:
        vocab = os.path.join(run_dir, "vocab.txt")
        if not os.path.isfile(vocab):
            raise InputError(f"{run_dir} has no vocab.txt, the run's vocabulary.")
        tokenizer = wordpiece_tokenizer(load_vocabulary(vocab))
    if data_dir is None:
        data_dir = recorded_data_dir(run_dir)
    return Run(
        run_dir=run_dir,
        config=config,
        tokenizer=tokenizer,
        image_preprocessor=ImagePreprocessor(config.image.size),
        text_preprocessor=TextPreprocessor(tokenizer, config.text.sequence_length),
        data_dir=os.fspath(data_dir or os.path.join(run_dir, "shapes")),
    )


def record_data_dir(run_dir, data_dir):
    """Writes `<run_dir>/run.json`, so a later `load_run` finds the data."""
    with open(os.path.join(run_dir, "run.json"), "w", encoding="utf-8") as f:
        json.dump({"data_dir": os.path.abspath(data_dir)}, f, indent=2)


def recorded_data_dir(run_dir):
    """The data folder `record_data_dir` wrote for `run_dir`, if it still exists."""
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
            data_dir = json.load(f).get("data_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return data_dir if isinstance(data_dir, str) and os.path.isdir(data_dir) else None
