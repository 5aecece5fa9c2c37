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


def tiny_efficientnet():
    # KerasHub 0.32's `EfficientNetBackbone.get_config` drops `num_features`,
    # so a backbone built with another value does not survive `from_config` or
    # a `.keras` reload: keep the default 1280-filter head.
    return keras_hub.models.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0, 1.0],
        stackwise_depth_coefficients=[1.0, 1.0],
        stackwise_kernel_sizes=[3, 3],
        stackwise_num_repeats=[1, 1],
        stackwise_input_filters=[8, 8],
        stackwise_output_filters=[8, 16],
        stackwise_expansion_ratios=[1, 2],
        stackwise_squeeze_and_excite_ratios=[0.0, 0.25],
        stackwise_strides=[1, 2],
        stackwise_block_types=["fused", "unfused"],
        input_shape=(32, 32, 3),
    )


@pytest.mark.parametrize(
    "output, expected",
    # Stem stride 2, then stride 2: an 8x8 map.
    [("pooled", shape(2, 1280)), ("tokens", shape(2, 64, 1280))],
)
def test_efficientnet(output, expected, tmp_path):
    encoder = image_encoder_from_keras_hub(
        tiny_efficientnet(), output=output, normalization="torch"
    )
    assert encoder.output_dim == 1280
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)


def tiny_mobilenet():
    return keras_hub.models.MobileNetBackbone(
        stackwise_expansion=[[16]],
        stackwise_num_blocks=[1],
        stackwise_num_filters=[[8]],
        stackwise_kernel_size=[[3]],
        stackwise_num_strides=[[2]],
        stackwise_se_ratio=[[None]],  # no squeeze-and-excite: keeps it fast
        stackwise_activation=[["hard_swish"]],
        stackwise_padding=[[1]],
        output_num_filters=None,
        depthwise_filters=8,
        depthwise_stride=2,
        depthwise_residual=False,
        last_layer_filter=16,
        input_num_filters=8,
        image_shape=(32, 32, 3),
    )


@pytest.mark.parametrize(
    "output, expected",
    # Stem, depthwise and inverted residual blocks each stride 2: a 4x4 map.
    [("pooled", shape(2, 16)), ("tokens", shape(2, 16, 16))],
)
def test_mobilenet(output, expected, tmp_path):
    encoder = image_encoder_from_keras_hub(
        tiny_mobilenet(), output=output, normalization="tf"
    )
    assert encoder.output_dim == 16
    run_model_test(encoder, images(), tmp_path, expected_output_shape=expected)
