import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_model_test
from vlpk.encoders import ImageEncoder, image_encoder_from_keras_cv

keras_cv = pytest.importorskip("keras_cv")
pytestmark = pytest.mark.kerascv


def tiny_resnet(include_rescaling=False):
    return keras_cv.models.ResNetBackbone(
        stackwise_filters=[8, 16],
        stackwise_blocks=[1, 1],
        stackwise_strides=[1, 2],
        include_rescaling=include_rescaling,
        input_shape=(32, 32, 3),
    )


def test_resnet(tmp_path):
    encoder = image_encoder_from_keras_cv(tiny_resnet(), output="tokens")
    assert isinstance(encoder, ImageEncoder)
    # Bottleneck blocks expand 16 filters to 64 channels; 32 / 8 = 4.
    data = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    run_model_test(
        encoder, data, tmp_path, expected_output_shape=tf.TensorShape((2, 16, 64))
    )


def test_double_rescaling_warns():
    with pytest.warns(UserWarning, match="include_rescaling"):
        image_encoder_from_keras_cv(tiny_resnet(include_rescaling=True))
    encoder = image_encoder_from_keras_cv(
        tiny_resnet(include_rescaling=True), normalization="none"
    )
    assert encoder.output_shape == (None, 64)
