import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.applications import imagenet_utils

from tests.test_case import run_layer_test
from vlpk.layers import PixelNormalization


def shape(*dims):
    # `run_*_test` maps `keras.tree` over the expected shapes, which walks into
    # plain tuples; a TensorShape is a leaf.
    return tf.TensorShape(dims)


def _images(batch=2, size=4):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_matches_keras_preprocess_input(mode):
    images = _images()
    expected = imagenet_utils.preprocess_input(images.copy(), mode=mode)
    actual = keras.ops.convert_to_numpy(PixelNormalization(mode)(images))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def test_caffe_matches_vgg16_preprocess_input():
    images = _images()
    expected = keras.applications.vgg16.preprocess_input(images.copy())
    actual = keras.ops.convert_to_numpy(PixelNormalization("caffe")(images))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def test_unit_and_none():
    images = _images()
    unit = keras.ops.convert_to_numpy(PixelNormalization("unit")(images))
    np.testing.assert_allclose(unit, images / 255.0, rtol=1e-6)
    none = keras.ops.convert_to_numpy(PixelNormalization("none")(images))
    np.testing.assert_allclose(none, images)


def test_accepts_uint8():
    images = _images().astype("uint8")
    out = PixelNormalization("unit")(images)
    assert out.dtype == "float32"


def test_unknown_mode():
    with pytest.raises(ValueError, match="caffe"):
        PixelNormalization("imagenet")


@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_layer(mode, tmp_path):
    run_layer_test(
        PixelNormalization,
        {"mode": mode},
        _images(),
        tmp_path,
        expected_output_shape=shape(2, 4, 4, 3),
        run_training=False,  # no weights to train
    )
