import keras
import numpy as np
import tensorflow as tf

from tests.test_case import run_serialization_test
from vlpk.losses.captioning import CaptioningLoss


def numpy_loss(y_true, logits):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
    real = y_true != 0
    return nll[real].mean()


def make_batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 6, 11)).astype("float32") * 3
    y_true = rng.integers(1, 11, (3, 6)).astype("int32")
    y_true[0, 2:] = 0
    y_true[1, 5:] = 0
    return y_true, logits


def test_matches_numpy_mean_over_real_tokens():
    y_true, logits = make_batch()
    expected = numpy_loss(y_true, logits)
    np.testing.assert_allclose(float(CaptioningLoss()(y_true, logits)), expected, 1e-5)


def test_pad_positions_are_ignored():
    y_true, logits = make_batch()
    noisy = logits.copy()
    noisy[y_true == 0] = np.random.default_rng(1).normal(size=noisy[y_true == 0].shape)
    loss = CaptioningLoss()
    np.testing.assert_allclose(
        float(loss(y_true, logits)), float(loss(y_true, noisy)), rtol=1e-6
    )


def test_inside_tf_function():
    # `fit` runs the loss in a graph: the pad mask must survive there too.
    y_true, logits = make_batch()
    value = tf.function(CaptioningLoss())(y_true, logits)
    np.testing.assert_allclose(float(value), numpy_loss(y_true, logits), 1e-5)


def test_all_pad_batch_is_zero():
    _, logits = make_batch()
    value = float(CaptioningLoss()(np.zeros((3, 6), "int32"), logits))
    assert value == 0.0


def test_serialization():
    loss = CaptioningLoss(pad_token_id=1, name="caption")
    revived = run_serialization_test(loss)
    assert revived.pad_token_id == 1
    assert keras.losses.get(keras.losses.serialize(loss)).name == "caption"
