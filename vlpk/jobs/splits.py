"""The train, val and test examples of a pretraining config."""

import sys

from vlpk.data.coco import read_coco_captions
from vlpk.data.synthetic import read_shapes, write_shapes


def _say(message):
    print(message, file=sys.stderr, flush=True)


def read_splits(config, data_dir):
    """(train, val, test) `Example`s of a `PretrainConfig`'s `data` block:
    generated Shapes (at `config.image.size`), or COCO from disk."""
    data = config.data
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
