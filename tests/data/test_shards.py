"""Reading TFRecord shards: file discovery, bad records, order, batches."""

import collections
import json
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import serialize_example
from vlpk.data.shards.reading import (
    caption_pair_dataset,
    decode_guarded,
    read_records,
    shard_files,
)
from vlpk.errors import InputError
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

SIZE = 16
LENGTH = 8
WORDS = ("red", "blue", "green", "circle", "square", "small", "big")


def png_bomb():
    """A PNG whose IHDR declares 30000 x 30000 pixels, followed by garbage."""
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + crc
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00garbage" * 64


def image(rng, encode):
    pixels = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    return encode(pixels).numpy()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Three shards (one gzip) with 9 good images and 5 bad records."""
    root = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(0)
    good, pairs, image_id = [], [], 0
    for i in range(9):
        encode = tf.io.encode_png if i % 2 else tf.io.encode_jpeg
        captions = tuple(
            " ".join(rng.choice(WORDS, 3)) + f" {k}" for k in range(1 + i % 3)
        )
        example = Example(f"img{image_id}.jpg", image_id, captions)
        good.append(serialize_example(example, image(rng, encode), 12, 20))
        pairs += [(image_id, c) for c in captions]
        image_id += 1
    jpeg = image(rng, tf.io.encode_jpeg)
    bad = [
        serialize_example(Example("rand", 100, ("bad",)), rng.bytes(300), 1, 1),
        serialize_example(Example("text", 101, ("bad",)), b"a caption, no image", 1, 1),
        serialize_example(Example("cut", 102, ("bad",)), jpeg[: len(jpeg) // 2], 1, 1),
        serialize_example(Example("bomb", 103, ("bad",)), png_bomb(), 30000, 30000),
        rng.bytes(200),  # a record that is no tf.train.Example at all
    ]
    records = good + bad
    order = rng.permutation(len(records))
    names = ["a.tfrecord", "b.tfrecord", "c.tfrecord.gz"]
    for k, name in enumerate(names):
        options = "GZIP" if name.endswith(".gz") else None
        with tf.io.TFRecordWriter(str(root / name), options) as writer:
            for index in order[k::3]:
                writer.write(records[index])
    (root / "notes.txt").write_text("not a shard")
    vocabulary = learn_vocabulary([c for _, c in pairs] + ["bad"], 60)
    text = TextPreprocessor(wordpiece_tokenizer(vocabulary), LENGTH)
    return root, pairs, text


def dataset(shards, **kwargs):
    root, _, text = shards
    kwargs.setdefault("batch_size", 4)
    kwargs.setdefault("drop_remainder", False)
    return caption_pair_dataset(root, ImagePreprocessor(SIZE), text, **kwargs)


def received_pairs(shards, ds):
    _, _, text = shards
    vocabulary = text.tokenizer.get_vocabulary()
    pairs = []
    for x, y in ds:
        assert x["images"].shape[1:] == (SIZE, SIZE, 3)
        assert x["padding_mask"].dtype == tf.int32
        for ids, image_id in zip(x["token_ids"].numpy(), y["contrastive"].numpy()):
            pairs.append((int(image_id), tuple(ids)))
    return pairs, vocabulary


def tokens(shards, caption):
    _, _, text = shards
    return tuple(text([caption])["token_ids"].numpy()[0])


def test_shard_files_lists_directory_glob_and_manifest(shards, tmp_path):
    root, _, _ = shards
    files = shard_files(root)
    assert [f.rsplit("/", 1)[1] for f in files] == [
        "a.tfrecord",
        "b.tfrecord",
        "c.tfrecord.gz",
    ]
    assert shard_files(str(root / "*.tfrecord")) == files[:2]
    (tmp_path / "x.tfrecord").write_bytes(b"")
    (tmp_path / "y.tfrecord").write_bytes(b"")
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": ["y.tfrecord"]}))
    assert shard_files(tmp_path) == [str(tmp_path / "y.tfrecord")]


def test_shard_files_errors_name_the_path(tmp_path):
    with pytest.raises(InputError, match=str(tmp_path)):
        shard_files(tmp_path)
    with pytest.raises(InputError, match="nothing-"):
        shard_files(str(tmp_path / "nothing-*.tfrecord"))
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": ["gone.tfrecord"]}))
    with pytest.raises(InputError, match="gone.tfrecord"):
        shard_files(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": []}))
    with pytest.raises(InputError, match="manifest.json"):
        shard_files(tmp_path)


def test_read_records_reads_gzip_skips_non_examples_and_shards_by_file(shards):
    root, _, _ = shards
    ds = read_records(root)
    ids = sorted(int(r["image_id"]) for r in ds)
    assert ids == list(range(9)) + [100, 101, 102, 103]
    files = shard_files(root)
    per_pipeline = []
    for index in range(3):
        context = tf.distribute.InputContext(3, index, 1)
        ds = read_records(root, input_context=context)
        policy = ds.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.OFF
        alone = sorted(int(r["image_id"]) for r in read_records(files[index]))
        per_pipeline.append(sorted(int(r["image_id"]) for r in ds))
        assert per_pipeline[-1] == alone  # pipeline k reads file k only
    with pytest.raises(InputError, match="3 shard file.* for 4 input pipelines"):
        read_records(root, input_context=tf.distribute.InputContext(4, 0, 1))


def test_decode_guarded_rejects_without_decoding():
    preprocessor = ImagePreprocessor(SIZE)
    for data in (png_bomb(), b"plain text", b"\x00\x01\x02"):
        _, ok = decode_guarded(tf.constant(data), preprocessor)
        assert not bool(ok)
    pixels = np.zeros((4, 6, 3), np.uint8)
    image, ok = decode_guarded(tf.io.encode_png(pixels), preprocessor)
    assert bool(ok) and image.shape == (SIZE, SIZE, 3)


def test_every_valid_pair_arrives_once_per_epoch_and_bad_records_are_skipped(
    shards,
):
    _, pairs, _ = shards
    ds = dataset(shards, shuffle_buffer=8, cache=True)
    expected = collections.Counter((i, tokens(shards, c)) for i, c in pairs)
    for _ in range(2):  # the second epoch reads the cache
        received, _ = received_pairs(shards, ds)
        assert collections.Counter(received) == expected


def test_deterministic_order_is_repeatable_and_seeded(shards):
    first, _ = received_pairs(shards, dataset(shards, seed=3))
    second, _ = received_pairs(shards, dataset(shards, seed=3))
    other, _ = received_pairs(shards, dataset(shards, seed=4))
    assert first == second
    assert first != other


def test_one_caption_per_image_and_full_batches(shards):
    ds = dataset(shards, one_caption_per_image=True, drop_remainder=True, repeat=True)
    assert ds.element_spec[0]["images"].shape == (4, SIZE, SIZE, 3)
    received, _ = received_pairs(shards, ds.take(9))  # four epochs of 9 images
    counts = collections.Counter(image_id for image_id, _ in received)
    assert set(counts) == set(range(9))
    # The record shuffle precedes the repeat: every epoch holds every image.
    assert set(counts.values()) == {4}


def test_augment_is_applied_to_each_image(shards):
    import keras

    ds = dataset(shards, augment=keras.layers.RandomCrop(8, 8), batch_size=2)
    x, y = next(iter(ds))
    assert x["images"].shape == (2, 8, 8, 3)
    assert y["contrastive"].dtype == tf.int64
