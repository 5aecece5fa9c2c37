"""Raw-folder pipelines: every valid pair arrives, bad images are skipped."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from tests.data.test_shards import png_bomb
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.pipelines.pipeline import classification_dataset, contrastive_dataset
from vlpk.data.records.example import Example
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

SIZE = 16
WORDS = ("red", "blue", "green", "circle", "square", "small", "big")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """5 good images (JPEG/PNG, some to resize) and one of each bad kind."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    examples = []
    for i in range(5):
        shape = (SIZE, SIZE, 3) if i % 2 else (12, 20, 3)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        encode = tf.io.encode_png if i % 2 else tf.io.encode_jpeg
        (root / f"good{i}.img").write_bytes(encode(pixels).numpy())
        captions = tuple(
            f"{' '.join(rng.choice(WORDS, 3))} {k}" for k in range(i % 3 + 1)
        )
        examples.append(Example(str(root / f"good{i}.img"), i, captions))
    jpeg = tf.io.encode_jpeg(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    bad = {
        "cut.jpg": jpeg.numpy()[:200],
        "notes.jpg": b"this file is text, not an image",
        "empty.jpg": b"",
        "bomb.png": png_bomb(),
    }
    for k, (name, data) in enumerate(bad.items()):
        (root / name).write_bytes(data)
        examples.append(Example(str(root / name), 100 + k, (f"red circle {k}",)))
    examples.append(Example(str(root / "missing.jpg"), 200, ("blue square",)))
    order = rng.permutation(len(examples))
    examples = [examples[i] for i in order]
    captions = [c for e in examples for c in e.captions]
    text = TextPreprocessor(wordpiece_tokenizer(learn_vocabulary(captions, 60)), 8)
    return examples, text


def test_contrastive_dataset_skips_each_bad_image_and_keeps_every_pair(folder):
    examples, text = folder
    preprocessor = ImagePreprocessor(SIZE)
    # Unshuffled (an evaluation stream): the images are checked first, so
    # the length is known, 9 good pairs in 3 batches (see the next test for
    # the shuffled training stream).
    ds = contrastive_dataset(
        examples, preprocessor, text, batch_size=3, drop_remainder=False, shuffle=False
    )
    assert int(ds.cardinality()) == 3
    expected = collections.Counter(
        (e.image_id, c) for e in examples if e.image_id < 100 for c in e.captions
    )
    tokens = {
        tuple(text([c])["token_ids"].numpy()[0]): c for _, c in expected.elements()
    }
    paths = {e.image_id: e.image_path for e in examples}
    for _ in range(2):  # the same pairs every epoch
        seen = collections.Counter()
        for x, y in ds:
            assert x["images"].dtype == tf.float32
            for image, ids, image_id in zip(
                x["images"].numpy(), x["token_ids"].numpy(), y["contrastive"].numpy()
            ):
                seen[(int(image_id), tokens[tuple(ids)])] += 1
                reference = preprocessor(tf.io.read_file(paths[int(image_id)]))
                np.testing.assert_array_equal(image, reference.numpy())
        assert seen == expected
    assert sum(expected.values()) == 1 + 2 + 3 + 1 + 2


def test_shuffled_stream_has_the_step_count_of_its_pairs(folder):
    examples, text = folder
    pairs = sum(len(e.captions) for e in examples)  # 9 good, 5 bad
    ds = contrastive_dataset(examples, ImagePreprocessor(SIZE), text, batch_size=3)
    # Known to Keras before the first epoch: 14 pairs make 4 full batches.
    assert pairs == 14 and int(ds.cardinality()) == 4
    good = {e.image_id for e in examples if e.image_id < 100}
    for _ in range(2):
        ids = [int(i) for _, y in ds for i in y["contrastive"].numpy()]
        # 4 batches of 3: the 9 good pairs' pass (3 batches), then a batch
        # from the next permutation; only good images either way.
        assert len(ids) == 12 and set(ids) == good
        assert collections.Counter(ids[:9]) == collections.Counter(
            e.image_id for e in examples if e.image_id < 100 for _ in e.captions
        )
    # Without skips, one epoch is exactly one permutation.
    clean = [e for e in examples if e.image_id < 100]
    ds = contrastive_dataset(clean, ImagePreprocessor(SIZE), text, batch_size=3)
    assert int(ds.cardinality()) == 3
    ids = sorted(int(i) for _, y in ds for i in y["contrastive"].numpy())
    assert ids == sorted(e.image_id for e in clean for _ in e.captions)


def test_classification_dataset_skips_bad_images(folder):
    examples, text = folder
    ds = classification_dataset(
        [e.image_path for e in examples],
        [e.captions[0] for e in examples],
        [e.image_id for e in examples],
        ImagePreprocessor(SIZE),
        text,
        batch_size=4,
    )
    # 10 examples make 3 batches (the last partial), whatever is skipped:
    # the 5 good ones, then the first batch of the next permutation.
    assert int(ds.cardinality()) == 3
    labels = [int(v) for _, y in ds for v in y["predictions"].numpy()]
    assert sorted(labels[:5]) == [0, 1, 2, 3, 4]
    assert len(labels) == 9 and set(labels) == {0, 1, 2, 3, 4}
