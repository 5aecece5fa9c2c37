import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_layer_test
from vlpk.layers import TokenPooling

TOKENS = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], "int32")


def shape(*dims):
    # `run_*_test` maps `keras.tree` over the expected shapes, which walks into
    # plain tuples; a TensorShape is a leaf.
    return tf.TensorShape(dims)


def test_cls():
    out = keras.ops.convert_to_numpy(TokenPooling("cls")(TOKENS))
    np.testing.assert_allclose(out, TOKENS[:, 0])


def test_mean_without_mask():
    out = keras.ops.convert_to_numpy(TokenPooling("mean")(TOKENS))
    np.testing.assert_allclose(out, TOKENS.mean(axis=1))


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_masked_mean(dtype):
    out = TokenPooling("mean")(TOKENS, padding_mask=MASK.astype(dtype))
    out = keras.ops.convert_to_numpy(out)
    np.testing.assert_allclose(out[0], TOKENS[0, :2].mean(axis=0))
    np.testing.assert_allclose(out[1], TOKENS[1].mean(axis=0))


def test_all_padding_row_gives_zeros():
    mask = np.zeros((2, 4), "int32")
    out = keras.ops.convert_to_numpy(TokenPooling("mean")(TOKENS, padding_mask=mask))
    np.testing.assert_allclose(out, 0.0)


def test_unknown_mode():
    with pytest.raises(ValueError, match="cls"):
        TokenPooling("max")


@pytest.mark.parametrize("mode", ["cls", "mean"])
def test_layer(mode, tmp_path):
    run_layer_test(
        TokenPooling,
        {"mode": mode},
        TOKENS,
        tmp_path,
        expected_output_shape=shape(2, 3),
        run_training=False,  # no weights to train
    )


def test_masked_mean_in_a_saved_model(tmp_path):
    # A plain functional model, so checked here rather than with
    # `run_model_test` (its config round trip needs a registered class); the
    # masked path through `run_model_test` is covered by the TextEncoder tests.
    tokens = keras.Input((4, 3), name="tokens")
    mask = keras.Input((4,), dtype="int32", name="padding_mask")
    pooled = TokenPooling("mean", name="pool")(tokens, padding_mask=mask)
    model = keras.Model({"tokens": tokens, "padding_mask": mask}, pooled)
    inputs = {"tokens": TOKENS, "padding_mask": MASK}
    expected = keras.ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(expected[0], TOKENS[0, :2].mean(axis=0))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(inputs)), expected)
