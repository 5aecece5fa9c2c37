"""A run on TFRecord shards, killed with SIGKILL and resumed, ends with the
uninterrupted weights.

The same test as `test_resume.py`, but the batches stream from shards
(`ShardSplit` through `pretraining_dataset`): the parallel interleave of
several shards, the seeded record and pair shuffles and the `ignore_errors`
stages must give the same stream on every start for `skip` to land on the
right batch.
"""

import json

import pytest

from tests.test_resume import check_kill_and_resume
from vlpk.data.shapes.samples import write_flickr8k


@pytest.fixture(scope="module")
def train_shards(tmp_path_factory):
    """The training split folder of a tiny Flickr8k, several shards of 4."""
    from vlpk.data.formats.registry import convert_dataset

    root = tmp_path_factory.mktemp("flickr8k")
    karpathy, images = write_flickr8k(
        root / "raw", splits={"train": 24, "val": 4, "test": 4}, image_size=64
    )
    convert_dataset(
        "karpathy", karpathy, images, root / "shards", verbose=0, shard_size=4
    )
    train = root / "shards" / "train"
    with open(train / "manifest.json") as f:
        assert len(json.load(f)["shards"]) >= 4  # the interleave has work to do
    return train


def test_kill_and_resume_on_shards_matches_uninterrupted(tmp_path, train_shards):
    check_kill_and_resume(tmp_path, shards=train_shards)
