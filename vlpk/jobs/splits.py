"""The train, val and test examples of a pretraining config."""

import os
import sys

from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.shards.shard_splits import (
    ShardSplit,
    protocol,
    read_manifest,
    unpack_split,
)
from vlpk.data.synthetic import read_shapes, write_shapes
from vlpk.errors import InputError


def _say(message):
    print(message, file=sys.stderr, flush=True)


def read_splits(config, data_dir):
    """(train, val, test) of a `PretrainConfig`'s `data` block: converted
    shards, generated Shapes (at `config.image.size`), or COCO from disk.

    Shapes and COCO give lists of `Example`s. Shards give a streamed
    `ShardSplit` for train, and val and test unpacked under `data_dir`
    (see `vlpk.data.shards.shard_splits`).
    """
    data = config.data
    if data.uses_shards:
        return read_shard_splits(data, data_dir)
    if data.name == "coco":
        train = read_coco_captions(data.train_annotations, data.train_image_dir)
        val = read_coco_captions(data.val_annotations, data.val_image_dir)
        _say(f"      COCO: {len(train)} train, {len(val)} val images")
        # The val split doubles as the retrieval test set here; Karpathy's
        # 5k test split arrives with the dataset readers.
        return train, val, val
    _say(f"      Shapes in {data_dir}")
    write_shapes(
        data_dir,
        seed=config.seed,
        image_size=config.image.size,
        splits={
            "train": data.train_images,
            "val": data.val_images,
            "test": data.test_images,
        },
    )
    return tuple(read_shapes(data_dir, s) for s in ("train", "val", "test"))


def split_folder(data, split):
    """`data.<split>`, else the `<split>` folder beside `data.train` if it
    exists, else None."""
    if getattr(data, split):
        return getattr(data, split)
    folder = _beside_train(data, split)
    return folder if os.path.isdir(folder) else None


def _beside_train(data, split):
    return os.path.join(os.path.dirname(os.path.normpath(data.train)), split)


def shard_folders(data):
    """`{split: folder}` of a shards `DataConfig`; val and test default to
    the `val` and `test` folders beside `data.train` when those exist."""
    folders = {"train": data.train}
    for split in ("val", "test"):
        folder = split_folder(data, split)
        if folder is None:
            raise InputError(
                f"data.{split} is not set and {_beside_train(data, split)} does "
                "not exist: pass "
                f"--set data.{split}=PATH (a split folder of `vlpk data convert`)."
            )
        folders[split] = folder
    return folders


def read_shard_splits(data, data_dir):
    """The train `ShardSplit`, and val and test unpacked under `data_dir`."""
    folders = shard_folders(data)
    train = ShardSplit.open(folders["train"], "data.train")
    _say(
        f"      shards: train {folders['train']} ({len(train)} images, "
        f"{train.captions} captions), streamed"
    )
    val = unpack_split(folders["val"], os.path.join(data_dir, "val"), "data.val")
    test = unpack_split(folders["test"], os.path.join(data_dir, "test"), "data.test")
    _say(f"      val {len(val)}, test {len(test)} records ({split_protocol(data)})")
    return train, val, test


def split_protocol(data, split="test"):
    """The benchmark name of a shards config's split, e.g. `karpathy-coco test`."""
    return protocol(read_manifest(shard_folders(data)[split], f"data.{split}"))
