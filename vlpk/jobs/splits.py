"""The train, val and test examples of a pretraining config."""

import sys

from vlpk.data.coco import read_coco_captions
from vlpk.data.synthetic import read_shapes, write_shapes


def _say(message):
    print(message, file=sys.stderr, flush=True)


def read_splits(config, data_dir):
    """(train, val, test) `Example`s: generated Shapes, or COCO from disk."""
    if config.dataset == "coco":
        train = read_coco_captions(
            config.coco_train_annotations, config.coco_train_images
        )
        val = read_coco_captions(config.coco_val_annotations, config.coco_val_images)
        _say(f"      COCO: {len(train)} train, {len(val)} val images")
        # The val split doubles as the retrieval test set here; Karpathy's
        # 5k test split arrives with the dataset readers.
        return train, val, val
    _say(f"      Shapes in {data_dir}")
    write_shapes(
        data_dir,
        seed=config.seed,
        image_size=config.image_size,
        splits={
            "train": config.train_images,
            "val": config.val_images,
            "test": config.test_images,
        },
    )
    return tuple(read_shapes(data_dir, s) for s in ("train", "val", "test"))
