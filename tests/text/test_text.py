import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from vlpk.text import (
    SPECIAL_TOKENS,
    TextPreprocessor,
    learn_vocabulary,
    load_vocabulary,
    wordpiece_tokenizer,
)

CAPTIONS = [
    "a red circle left of a blue square",
    "a blue circle left of a red square",
    "two shapes: a small green triangle above a large yellow star",
    "there is a purple diamond",
    "一个红色的圆",  # CJK must survive learning and tokenization
] * 20


@pytest.fixture(scope="module")
def vocab():
    return learn_vocabulary(CAPTIONS, vocabulary_size=200)


def test_vocabulary_has_special_tokens_and_words(vocab, tmp_path):
    assert tuple(vocab[: len(SPECIAL_TOKENS)]) == SPECIAL_TOKENS
    for word in ["red", "circle", "square", "红", "圆"]:
        assert word in vocab
    path = os.path.join(tmp_path, "vocab.txt")
    learn_vocabulary(CAPTIONS, vocabulary_size=200, output_path=path)
    assert load_vocabulary(path) == vocab


def test_load_vocabulary_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="learn_vocabulary"):
        load_vocabulary(os.path.join(tmp_path, "missing.txt"))
    bad = os.path.join(tmp_path, "bad.txt")
    with open(bad, "w") as f:
        f.write("hello\n")
    with pytest.raises(ValueError, match=r"\[PAD\]"):
        load_vocabulary(bad)


def test_tokenizer_round_trip(vocab):
    tokenizer = wordpiece_tokenizer(vocab)
    for text in ["a red circle left of a blue square", "一 个 红 色 的 圆"]:
        ids = np.asarray(tokenizer(text)).tolist()
        assert vocab.index("[UNK]") not in ids
        detokenized = tokenizer.detokenize(ids)
        detokenized = np.asarray(detokenized).item()
        if isinstance(detokenized, bytes):
            detokenized = detokenized.decode()
        assert detokenized == text


def test_preprocessor_packs_and_matches_in_tf_data(vocab, tmp_path):
    preprocessor = TextPreprocessor(wordpiece_tokenizer(vocab), sequence_length=12)
    out = preprocessor(["a red circle", "a blue circle left of a red square"])
    ids, mask = out["token_ids"].numpy(), out["padding_mask"].numpy()
    assert ids.dtype == np.int32 and mask.dtype == np.int32
    assert ids.shape == (2, 12)
    assert ids[0, 0] == vocab.index("[CLS]")
    n = int(mask[0].sum())
    assert ids[0, n - 1] == vocab.index("[SEP]") and ids[0, n] == 0
    # Same result whether called directly or mapped over tf.data, batched or not.
    ds = tf.data.Dataset.from_tensor_slices(
        ["a red circle", "a blue circle left of a red square"]
    )
    unbatched = np.stack(
        [x["token_ids"] for x in ds.map(preprocessor).as_numpy_iterator()]
    )
    batched = next(ds.batch(2).map(preprocessor).as_numpy_iterator())["token_ids"]
    np.testing.assert_array_equal(unbatched, ids)
    np.testing.assert_array_equal(batched, ids)


def test_preprocessor_serialization(vocab, tmp_path):
    preprocessor = TextPreprocessor(wordpiece_tokenizer(vocab), sequence_length=8)
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, preprocessor(inputs))
    path = os.path.join(tmp_path, "p.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    text = tf.constant(["a red circle left of a blue square"])
    np.testing.assert_array_equal(
        restored(text)["token_ids"], preprocessor(text)["token_ids"]
    )
    config = preprocessor.get_config()
    assert TextPreprocessor.from_config(config).get_config() == config


def test_tokenizer_from_local_preset(vocab, tmp_path):
    import keras_hub

    from vlpk.text import tokenizer_from_preset

    # A KerasHub preset folder, as a user would have it on disk.
    tokenizer = wordpiece_tokenizer(vocab)
    preset = os.path.join(tmp_path, "preset")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab),
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=8,
        max_sequence_length=8,
    )
    backbone.save_to_preset(preset)
    tokenizer.save_to_preset(preset)
    restored = tokenizer_from_preset(preset)
    text = "a red circle left of a blue square"
    np.testing.assert_array_equal(restored(text), tokenizer(text))


def test_cjk_captions_survive_vocabulary_learning_and_tokenization():
    from vlpk.text import learn_vocabulary, wordpiece_tokenizer

    captions = [
        "一只红色的圆形",
        "蓝色的正方形在左边",
        "三角形 above the 圆形",
        "Ünïcödé façade",
    ]
    vocabulary = learn_vocabulary(captions, 120)
    assert "红" in vocabulary and "圆" in vocabulary  # CJK is split per character
    tokenizer = wordpiece_tokenizer(vocabulary)
    unk = tokenizer.token_to_id("[UNK]")
    for caption in captions[:3]:
        ids = [int(i) for i in tokenizer(caption)]
        assert ids and unk not in ids, (caption, ids)
        text = tokenizer.detokenize(ids)
        text = text.numpy().decode() if hasattr(text, "numpy") else text
        assert text.replace(" ", "") == caption.replace(" ", "").lower()
