import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_model_test, run_serialization_test
from vlpk.encoders import ImageEncoder, small_cnn


def shape(*dims):
    # `run_model_test` maps `keras.tree` over the expected shapes, which walks
    # into plain tuples; a TensorShape is a leaf.
    return tf.TensorShape(dims)


def images(batch=2, size=32):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")


def tiny_cnn(image_size=32):
    return small_cnn(image_size, widths=(4, 8))


def token_backbone():
    """A backbone that returns tokens (batch, 4, 8)."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 16, strides=16, name="patchify")(inputs)
    x = keras.layers.Reshape((-1, 8), name="tokens")(x)
    return keras.Model(inputs, x, name="token_backbone")


def vector_backbone():
    """A backbone that returns one vector (batch, 8) per image."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    return keras.Model(inputs, x, name="vector_backbone")


def test_small_cnn_feature_map():
    model = small_cnn(64, widths=(4, 8, 16))
    assert model.output_shape == (None, 8, 8, 16)
    assert model.input_shape == (None, 64, 64, 3)


@pytest.mark.parametrize(
    "output, expected", [("pooled", shape(2, 8)), ("tokens", shape(2, 64, 8))]
)
def test_feature_map_backbone(output, expected, tmp_path):
    encoder = ImageEncoder(tiny_cnn(), output=output, normalization="unit")
    assert encoder.output_dim == 8
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)


@pytest.mark.parametrize(
    "output, expected", [("pooled", shape(2, 8)), ("tokens", shape(2, 4, 8))]
)
def test_token_backbone(output, expected, tmp_path):
    encoder = ImageEncoder(
        token_backbone(), output=output, normalization="tf", image_size=32
    )
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)


def test_token_backbone_pooled_is_mean_of_tokens():
    backbone = token_backbone()
    pooled = ImageEncoder(backbone, output="pooled", image_size=32)
    tokens = ImageEncoder(backbone, output="tokens", image_size=32)
    data = images()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pooled(data)),
        keras.ops.convert_to_numpy(tokens(data)).mean(axis=1),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "output, expected", [("pooled", shape(2, 8)), ("tokens", shape(2, 1, 8))]
)
def test_vector_backbone(output, expected, tmp_path):
    encoder = ImageEncoder(vector_backbone(), output=output)
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)


def test_normalization_is_applied():
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(inputs)
    identity = keras.Model(inputs, outputs)
    encoder = ImageEncoder(identity, normalization="unit")
    data = images(size=4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(encoder(data)),
        data.mean(axis=(1, 2)) / 255.0,
        rtol=1e-5,
    )


def test_dict_outputs_take_sequence_output_else_last():
    inputs = keras.Input((32, 32, 3), name="images")
    p2 = keras.layers.Conv2D(4, 3, strides=2, name="p2")(inputs)
    p3 = keras.layers.Conv2D(6, 3, strides=2, name="p3")(p2)
    pyramid = keras.Model(inputs, {"P2": p2, "P3": p3})
    assert ImageEncoder(pyramid).output_dim == 6

    tokens = keras.layers.Reshape((-1, 4), name="seq")(p2)
    named = keras.Model(inputs, {"sequence_output": tokens, "other": p3})
    assert ImageEncoder(named, output="tokens").output_shape == (None, 225, 4)

    listed = keras.Model(inputs, [p3, p2])
    assert ImageEncoder(listed).output_dim == 4


def test_dict_input_backbone(tmp_path):
    inputs = keras.Input((32, 32, 3), name="images")
    x = keras.layers.Conv2D(4, 3, strides=2, name="conv")(inputs)
    backbone = keras.Model({"images": inputs}, x)
    encoder = ImageEncoder(backbone, output="pooled")
    run_model_test(encoder, images(), tmp_path, expected_output_shape=shape(2, 4))


def test_image_size():
    any_size = small_cnn(None, widths=(4,))
    assert ImageEncoder(any_size).input_shape == (None, None, None, 3)
    assert ImageEncoder(any_size, image_size=16).input_shape == (None, 16, 16, 3)
    encoder = ImageEncoder(any_size, image_size=[16, 24], output="tokens")
    assert encoder.input_shape == (None, 16, 24, 3)
    assert encoder.output_shape == (None, 8 * 12, 4)
    assert run_serialization_test(encoder).image_size == (16, 24)
    with pytest.raises(ValueError, match="does not match"):
        ImageEncoder(tiny_cnn(32), image_size=64)


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooled"):
        ImageEncoder(tiny_cnn(), output="cls")
    with pytest.raises(ValueError, match="caffe"):
        ImageEncoder(tiny_cnn(), normalization="imagenet")
