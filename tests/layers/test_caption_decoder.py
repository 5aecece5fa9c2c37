import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_layer_test
from vlpk.layers.caption_decoder import CaptionDecoder, next_token_targets

VOCABULARY_SIZE = 30
SEQUENCE_LENGTH = 8
TINY = {
    "vocabulary_size": VOCABULARY_SIZE,
    "sequence_length": SEQUENCE_LENGTH,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 16,
    "intermediate_dim": 32,
    "dropout": 0.0,
}


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((2, SEQUENCE_LENGTH), "int32")
    mask[0, 5:] = 0
    token_ids = rng.integers(5, VOCABULARY_SIZE, (2, SEQUENCE_LENGTH)).astype("int32")
    return {
        "token_ids": token_ids * mask,
        "padding_mask": mask,
        "image_tokens": rng.normal(size=(2, 9, 12)).astype("float32"),
    }


def test_caption_decoder(tmp_path):
    out = run_layer_test(
        CaptionDecoder,
        TINY,
        make_batch(),
        tmp_path,
        expected_output_shape=(2, SEQUENCE_LENGTH, VOCABULARY_SIZE),
    )
    assert out.dtype == "float32"
    assert np.isfinite(np.asarray(out)).all()


def test_weights_exist_after_build():
    decoder = CaptionDecoder(**TINY)
    decoder.build(
        {
            "token_ids": (None, SEQUENCE_LENGTH),
            "padding_mask": (None, SEQUENCE_LENGTH),
            "image_tokens": (None, 9, 12),
        }
    )
    names = [w.path for w in decoder.weights]
    assert any("image_projection" in n for n in names)
    assert any("logits" in n for n in names)
    assert sum("decoder_block_1" in n for n in names) > 0


def test_causal_mask():
    decoder = CaptionDecoder(**TINY)
    data = make_batch()
    data["padding_mask"] = np.ones_like(data["padding_mask"])
    before = np.asarray(decoder(data))
    for t in range(SEQUENCE_LENGTH - 1):
        changed = dict(data)
        token_ids = data["token_ids"].copy()
        token_ids[:, t + 1 :] = (token_ids[:, t + 1 :] + 7) % VOCABULARY_SIZE
        changed["token_ids"] = token_ids
        after = np.asarray(decoder(changed))
        # Positions up to t see only tokens up to t: unchanged.
        np.testing.assert_allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-5)
        # The position that sees the first changed token does change.
        assert not np.allclose(before[:, t + 1], after[:, t + 1], atol=1e-5)


def test_image_tokens_matter():
    decoder = CaptionDecoder(**TINY)
    data = make_batch()
    a = np.asarray(decoder(data))
    b = np.asarray(decoder({**data, "image_tokens": data["image_tokens"] + 1.0}))
    assert not np.allclose(a, b, atol=1e-4)


def test_rejects_pooled_image():
    decoder = CaptionDecoder(**TINY)
    with pytest.raises(ValueError, match="image_tokens"):
        decoder({**make_batch(), "image_tokens": np.ones((2, 12), "float32")})


def test_next_token_targets():
    ids = np.array([[2, 7, 8, 3, 0], [2, 9, 10, 11, 3]], "int32")
    expected = [[7, 8, 3, 0, 0], [9, 10, 11, 3, 0]]
    assert next_token_targets(ids).numpy().tolist() == expected
    # In tf.data, on unbatched rows, as the pipeline makes `y["caption"]`.
    ds = tf.data.Dataset.from_tensor_slices(ids).map(next_token_targets)
    assert [row.tolist() for row in ds.as_numpy_iterator()] == expected
