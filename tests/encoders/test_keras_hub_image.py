import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_model_test
from vlpk.encoders import ImageEncoder, image_encoder_from_keras_hub


def shape(*dims):
    # `run_model_test` maps `keras.tree` over the expected shapes, which walks
    # into plain tuples; a TensorShape is a leaf.
    return tf.TensorShape(dims)


def images(size=32):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (2, size, size, 3)).astype("float32")


def tiny_vit():
    return keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=16,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
    )


@pytest.mark.parametrize(
    "output, expected",
    # 2x2 patches plus the class token.
    [("pooled", shape(2, 16)), ("tokens", shape(2, 5, 16))],
)
def test_vit(output, expected, tmp_path):
    encoder = image_encoder_from_keras_hub(
        tiny_vit(), output=output, normalization="tf"
    )
    assert isinstance(encoder, ImageEncoder)
    assert encoder.output_dim == 16
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)


def test_resnet(tmp_path):
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 8],  # KerasHub requires 64 first
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(None, None, 3),
    )
    encoder = image_encoder_from_keras_hub(
        backbone, output="tokens", image_size=32, normalization="torch"
    )
    # Stem stride 4 (conv + pool), then stride 2: a 4x4 map.
    run_model_test(encoder, images(), tmp_path, expected_output_shape=shape(2, 16, 8))


def test_vgg(tmp_path):
    backbone = keras_hub.models.VGGBackbone(
        stackwise_num_repeats=[1, 1],
        stackwise_num_filters=[4, 8],
        image_shape=(32, 32, 3),
    )
    encoder = image_encoder_from_keras_hub(backbone)
    assert encoder.normalization == "unit"
    run_model_test(encoder, images(), tmp_path, expected_output_shape=shape(2, 8))
