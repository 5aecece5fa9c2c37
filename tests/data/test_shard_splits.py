"""The jobs' splits from shards: training streams, evaluation unpacks once.

The shard stream must give the very batches of the same examples read from
disk, every objective's targets included, with the epoch length from the
manifest; an unpacked split writes each image once and is reused.
"""

import json
import os

import numpy as np
import pytest

from tests.data.test_convert import jpeg
from vlpk.config import PretrainConfig
from vlpk.data.formats.karpathy import read_karpathy
from vlpk.data.formats.registry import convert_dataset
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.pipelines.pretraining import pretraining_dataset
from vlpk.data.records.example import Example
from vlpk.data.shapes.samples import write_flickr8k
from vlpk.data.shards import shard_splits
from vlpk.data.shards.convert import convert_examples
from vlpk.data.shards.shard_splits import (
    ShardSplit,
    caption_count,
    coco_references,
    protocol,
    read_manifest,
    unpack_split,
)
from vlpk.errors import InputError
from vlpk.jobs.splits import read_splits, shard_folders
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer


@pytest.fixture(scope="module")
def flickr8k(tmp_path_factory):
    """A converted Flickr8k-style set: `(karpathy file, images, shards root)`."""
    root = tmp_path_factory.mktemp("flickr8k")
    path, images = write_flickr8k(root, {"train": 10, "val": 4, "test": 4})
    out = root / "shards"
    convert_dataset("karpathy", path, images, out, verbose=0, shard_size=4)
    return path, images, out


def batches(ds):
    return [
        {
            **{f"x.{k}": np.asarray(v) for k, v in x.items()},
            **{f"y.{k}": v for k, v in y.items()},
        }
        for x, y in ds.as_numpy_iterator()
    ]


def test_shard_stream_gives_the_batches_of_the_same_examples(flickr8k):
    path, images, out = flickr8k
    examples = read_karpathy(path, images, split="train")
    split = ShardSplit.open(out / "train")
    assert (len(split), split.captions) == (10, caption_count(examples))
    vocab = learn_vocabulary(split.caption_dataset(), 100)
    # The vocabulary learned from the stream is the one of the listed captions.
    assert vocab == learn_vocabulary([c for e in examples for c in e.captions], 100)
    args = (ImagePreprocessor(64), TextPreprocessor(wordpiece_tokenizer(vocab), 12))
    objectives = ("contrastive", "matching", "captioning")

    def dataset(source):
        return pretraining_dataset(
            source, *args, objectives=objectives, batch_size=8, shuffle=False
        )

    streamed, listed = dataset(split), dataset(examples)
    # The manifest gives the epoch its length before the first batch.
    assert int(streamed.cardinality()) == split.captions // 8 == 6
    got, want = batches(streamed), batches(listed)
    assert len(got) == len(want) == 6
    for a, b in zip(got, want):
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_shuffled_stream_is_seeded(flickr8k):
    _, _, out = flickr8k
    split = ShardSplit.open(out / "train")
    vocab = learn_vocabulary(split.caption_dataset(), 100)
    args = (ImagePreprocessor(64), TextPreprocessor(wordpiece_tokenizer(vocab), 12))

    def ids(seed):
        ds = pretraining_dataset(split, *args, batch_size=8, seed=seed, repeat=True)
        return [y["contrastive"].tolist() for _, y in ds.take(4).as_numpy_iterator()]

    assert ids(0) == ids(0)
    assert ids(0) != ids(1)


def test_unpacked_split_writes_each_image_once_and_is_reused(tmp_path, monkeypatch):
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(0))
    questions = [
        Example(str(image), 7, (), "what?", 70, ("red",) * 10, "red", "other"),
        Example(str(image), 7, (), "how many?", 71, ("2",) * 10, "2", "number"),
    ]
    convert_examples(questions, tmp_path / "vqa", split="test", verbose=0)
    unpacked = unpack_split(tmp_path / "vqa", str(tmp_path / "unpacked"))
    assert os.listdir(tmp_path / "unpacked" / "images") == ["7.jpg"]
    assert [(e.question_id, e.answer, e.answers) for e in unpacked] == [
        (70, "red", ("red",) * 10),
        (71, "2", ("2",) * 10),
    ]
    assert open(unpacked[0].image_path, "rb").read() == jpeg(0)

    def no_second_unpacking(*args):
        raise AssertionError("unpacked again")

    monkeypatch.setattr(shard_splits, "_unpack", no_second_unpacking)
    assert unpack_split(tmp_path / "vqa", str(tmp_path / "unpacked")) == unpacked


def test_coco_references_are_coco_captions_once_per_image():
    examples = [
        Example("x/1.jpg", 1, ("a red circle", "a circle")),
        Example("x/1.jpg", 1, ("a red circle", "a circle"), question="q?"),
        Example("x/2.png", 2, ("a square",)),
    ]
    assert coco_references(examples) == {
        "images": [{"id": 1, "file_name": "1.jpg"}, {"id": 2, "file_name": "2.png"}],
        "annotations": [
            {"id": 1, "image_id": 1, "caption": "a red circle"},
            {"id": 2, "image_id": 1, "caption": "a circle"},
            {"id": 3, "image_id": 2, "caption": "a square"},
        ],
    }


def test_read_splits_streams_train_and_unpacks_val_and_test(flickr8k, tmp_path):
    _, _, out = flickr8k
    config = PretrainConfig().replace(data={"train": str(out / "train")})
    train, val, test = read_splits(config, str(tmp_path / "data"))
    assert isinstance(train, ShardSplit)
    assert (len(val), len(test)) == (4, 4)
    assert all(e.image_path.startswith(str(tmp_path / "data" / "test")) for e in test)
    with open(tmp_path / "data" / "test" / shard_splits.REFERENCES) as f:
        assert len(json.load(f)["annotations"]) == sum(len(e.captions) for e in test)
    assert protocol(read_manifest(out / "test")) == "karpathy-flickr8k test"


def test_bad_shard_folders_say_what_to_pass(flickr8k, tmp_path):
    _, _, out = flickr8k
    with pytest.raises(InputError, match=r"one folder per split; choose one: .*train"):
        ShardSplit.open(out)
    with pytest.raises(InputError, match="data.train=.*no manifest.json"):
        ShardSplit.open(tmp_path)
    lone = tmp_path / "lone" / "train"
    lone.mkdir(parents=True)
    data = PretrainConfig().replace(data={"train": str(lone)}).data
    with pytest.raises(
        InputError, match="data.val is not set and .*val does not exist"
    ):
        shard_folders(data)
    with pytest.raises(InputError, match="set data.train=PATH too"):
        PretrainConfig().replace(data={"test": str(out / "test")}).validate()
