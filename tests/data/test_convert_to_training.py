"""From a Flickr8k-style folder with bad files to `model.fit` on its shards.

Training must see exactly the source's valid (image, caption) pairs: every
one once per epoch, with the pixels of the original file, and none of the
bad ones.
"""

import collections
import json

import keras
import numpy as np
import tensorflow as tf

from vlpk.data.formats.registry import convert_dataset
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.shards.reading import caption_pair_dataset
from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
from vlpk.losses import ContrastiveLoss
from vlpk.models import DualEncoderBackbone
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

CAPTIONS = {
    "a.jpg": ["a red circle", "a round red shape"],
    "b.png": ["a blue square", "蓝色的正方形"],
    "c.jpg": ["a green triangle"],
    "d.jpg": ["two small circles", "two dots"],
    "broken.jpg": ["never seen"],  # truncated
    "notes.jpg": ["never seen either"],  # not an image
    "gone.jpg": ["missing file"],
}


def write_flickr8k(root):
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png", "c.jpg", "d.jpg", "broken.jpg"):
        pixels = rng.integers(0, 255, (24, 20, 3), "uint8")
        encode = tf.io.encode_png if name.endswith(".png") else tf.io.encode_jpeg
        (images / name).write_bytes(encode(pixels).numpy())
    data = (images / "broken.jpg").read_bytes()
    (images / "broken.jpg").write_bytes(data[: len(data) // 2])
    (images / "notes.jpg").write_text("shopping list")
    lines = [
        f"{name}#{i}\t{caption}"
        for name, captions in CAPTIONS.items()
        for i, caption in enumerate(captions)
    ]
    lines.append("d.jpg#2\t   ")  # an empty caption
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return images


def test_training_sees_exactly_the_valid_source_pairs(tmp_path):
    images = write_flickr8k(tmp_path)
    manifest = convert_dataset(
        "flickr8k",
        tmp_path / "Flickr8k.token.txt",
        images,
        tmp_path / "shards",
        shard_size=2,
        verbose=0,
    )
    assert manifest["examples"] == 4
    assert sorted(s["reason"].split(" (")[0] for s in manifest["skipped"]) == [
        "empty caption",
        "file not found",
        "not an image",
        "truncated or corrupt image",
    ]
    assert (
        json.loads((tmp_path / "shards" / "manifest.json").read_text())["examples"] == 4
    )

    expected = collections.Counter(
        (name, caption)
        for name, captions in CAPTIONS.items()
        if name in ("a.jpg", "b.png", "c.jpg", "d.jpg")
        for caption in captions
    )
    ids = {name: i for i, name in enumerate(CAPTIONS)}  # Flickr8k ids: file order
    vocabulary = learn_vocabulary([c for cs in CAPTIONS.values() for c in cs], 80)
    text = TextPreprocessor(wordpiece_tokenizer(vocabulary), 8)
    preprocessor = ImagePreprocessor(16)
    ds = caption_pair_dataset(
        tmp_path / "shards", preprocessor, text, batch_size=3, drop_remainder=False
    )

    def tokens(caption):
        return tuple(text(tf.constant([caption]))["token_ids"].numpy()[0])

    expected = collections.Counter(
        {(n, tokens(c)): k for (n, c), k in expected.items()}
    )
    names = {i: name for name, i in ids.items()}
    seen = collections.Counter()
    for x, y in ds:
        for image, token_ids, image_id in zip(
            x["images"].numpy(), x["token_ids"].numpy(), y["contrastive"].numpy()
        ):
            name = names[int(image_id)]
            seen[(name, tuple(token_ids))] += 1
            original = preprocessor(tf.io.read_file(str(images / name))).numpy()
            np.testing.assert_array_equal(image, original)
    assert seen == expected
    assert sum(seen.values()) == 7

    keras.utils.set_random_seed(0)
    model = DualEncoderBackbone(
        ImageEncoder(small_cnn(16, widths=(8,)), normalization="unit"),
        bert_encoder(
            text.vocabulary_size,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_sequence_length=8,
            pooling="pooler",
        ),
        embedding_dim=8,
    )
    model.compile(optimizer="adam", loss={"contrastive": ContrastiveLoss()})
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
