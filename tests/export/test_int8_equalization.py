"""Channel equalization before int8: exact in float, better in int8."""

import keras
import numpy as np
import pytest

from tests.export.int8_helpers import (
    embedder,
    images,
    lite_outputs,
    representative,
    signature,
)
from tests.test_case import run_serialization_test
from vlpk.encoders import ImageEncoder
from vlpk.export.int8_equalization import (
    PrescaledGroupNormalization,
    _channel_affine,
    _channel_scale,
    _patterns,
    equalize_for_int8,
)
from vlpk.export.tflite import convert


def test_patterns_of_the_small_cnn():
    backbone = embedder().get_layer("encoder").backbone
    found = {
        k: [[x.name for x in p] for p in v] for k, v in _patterns(backbone).items()
    }
    assert found == {
        "conv_norm": [["block1_conv", "block1_gn"], ["block2_conv", "block2_gn"]],
        "relu_conv": [["block1_gn", "block1_relu", "block2_conv"]],
    }


def test_equalized_model_is_equal_in_float_and_its_channels_even():
    model = embedder()
    calibration = images(64, 1)
    equalized = equalize_for_int8(model, calibration)
    assert equalized is not model
    x = images(16, 2)
    np.testing.assert_allclose(equalized(x), model(x), rtol=1e-4, atol=1e-5)
    # The original is untouched.
    np.testing.assert_allclose(model(x), embedder()(x), atol=0)

    def values(m, layer_name):
        backbone = m.get_layer("encoder").backbone
        probe = keras.Model(backbone.input, backbone.get_layer(layer_name).output)
        return np.asarray(probe(calibration))

    # ReLU outputs feeding a convolution: every channel reaches the same top.
    assert _channel_scale(values(model, "block1_relu"), 99.99).min() < 0.1
    scale = _channel_scale(values(equalized, "block1_relu"), 99.99)
    np.testing.assert_allclose(scale, 1.0, rtol=1e-3)
    # Convolution outputs feeding a group norm: every channel spans [-M, M].
    for name in ("block1_conv", "block2_conv"):
        scale, shift = _channel_affine(values(model, name), 99.99)
        assert scale.min() < 0.1 and np.abs(shift).max() > 0.1 * scale.max()
        scale, shift = _channel_affine(values(equalized, name), 99.99)
        np.testing.assert_allclose(scale, 1.0, rtol=1e-3)
        half_width = np.abs(values(equalized, name)).max()
        assert np.abs(shift).max() < 1e-3 * half_width


def test_models_without_the_patterns_come_back_unchanged():
    model = embedder(norm="batch")
    assert equalize_for_int8(model, images(8, 1)) is model
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert equalize_for_int8(dense, np.zeros((2, 4), "float32")) is dense


class Unconfigurable(keras.layers.Layer):
    """A layer with no config: its argument is a function."""

    def __init__(self, function, **kwargs):
        super().__init__(**kwargs)
        self.function = function

    def call(self, x):
        return self.function(x)


def test_any_functional_backbone_with_the_patterns():
    # Unnamed layers and input, biased convolutions, a final group norm.
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3)(inputs)
    x = keras.layers.ReLU()(keras.layers.GroupNormalization(4)(x))
    x = keras.layers.GroupNormalization(4)(keras.layers.Conv2D(8, 3)(x))
    encoder = ImageEncoder(keras.Model(inputs, x), name="encoder")
    images = keras.Input((16, 16, 3), name="images")
    model = keras.Model(images, encoder(images))
    backbone = encoder.backbone
    found = {k: len(v) for k, v in _patterns(backbone).items()}
    assert found == {"conv_norm": 2, "relu_conv": 1}
    for layer in backbone.layers:  # uneven channels, nonzero biases
        if isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(np.linspace(-1, 1, 8))
            layer.kernel.assign(np.asarray(layer.kernel) * np.geomspace(0.05, 5, 8))
    equalized = equalize_for_int8(model, images_of(16))
    assert equalized is not model
    x = images_of(4)
    np.testing.assert_allclose(equalized(x), model(x), rtol=1e-4, atol=1e-4)


def test_a_backbone_that_cannot_be_copied_is_exported_unchanged():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = keras.layers.GroupNormalization(4)(x)
    x = Unconfigurable(keras.ops.square)(keras.layers.ReLU()(x))
    encoder = ImageEncoder(keras.Model(inputs, x), name="encoder")
    images = keras.Input((16, 16, 3), name="images")
    model = keras.Model(images, encoder(images))
    with pytest.warns(UserWarning, match="without channel equalization"):
        assert equalize_for_int8(model, images_of(8)) is model


def test_prescaled_group_norm_scales_and_shifts_before_normalizing():
    scale, shift = [1.0, 4.0, 1.0, 4.0], [0.0, -2.0, 3.0, 0.5]
    layer = PrescaledGroupNormalization(scale, shift, groups=2)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    plain = keras.layers.GroupNormalization(groups=2)
    expected = plain(x * np.array(scale, "float32") + np.array(shift, "float32"))
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)
    restored = run_serialization_test(layer)
    assert restored.input_scale == scale and restored.input_shift == shift
    with pytest.raises(ValueError, match="axis=-1"):
        PrescaledGroupNormalization([1.0], groups=1, axis=1)
    with pytest.raises(ValueError, match="one value per channel"):
        PrescaledGroupNormalization([1.0, 1.0], [0.0], groups=1)


def int8_cosine(model, calibration, held_out):
    flatbuffer = convert(signature(model), [model], "int8", representative(calibration))
    lite = lite_outputs(flatbuffer, held_out)
    reference = np.asarray(model(held_out))
    cos = (lite * reference).sum(-1)
    cos /= np.linalg.norm(lite, axis=-1) * np.linalg.norm(reference, axis=-1)
    return float(cos.mean())


def test_equalization_reduces_the_int8_error():
    model = embedder()
    calibration, held_out = images(64, 1), images(32, 2)
    plain = int8_cosine(model, calibration, held_out)
    equalized = int8_cosine(
        equalize_for_int8(model, calibration), calibration, held_out
    )
    # The int8 error (1 - cosine) shrinks at least fivefold (here ~20x).
    assert 1 - equalized < 0.2 * (1 - plain), (plain, equalized)


def images_of(n):
    return images(n, 3)
