import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_model_test
from vlpk.encoders import (
    ImageEncoder,
    applications_backbone,
    image_encoder_from_applications,
)


def test_vgg16_encoder(tmp_path):
    encoder = image_encoder_from_applications("vgg16", image_size=32)
    assert isinstance(encoder, ImageEncoder)
    assert encoder.normalization == "caffe"
    assert encoder.output_dim == 512
    data = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    run_model_test(
        encoder, data, tmp_path, expected_output_shape=tf.TensorShape((2, 512))
    )


def test_mobilenetv3small_tokens():
    encoder = image_encoder_from_applications(
        "mobilenetv3small", image_size=64, output="tokens"
    )
    assert encoder.normalization == "none"
    assert encoder.output_shape == (None, 4, 576)
    out = encoder(np.full((1, 64, 64, 3), 255.0, "float32"))
    assert np.isfinite(np.asarray(out)).all()


@pytest.mark.parametrize(
    "name, mode",
    [("VGG16", "caffe"), ("efficientnetv2b0", "none"), ("mobilenetv3large", "none")],
)
def test_normalization_modes(name, mode):
    backbone, normalization = applications_backbone(name, image_size=32)
    assert normalization == mode
    assert backbone.output_shape[-1] in (512, 1280, 960)


def test_not_trainable():
    backbone, _ = applications_backbone("vgg16", image_size=32, trainable=False)
    assert not backbone.trainable_weights
    encoder = image_encoder_from_applications("vgg16", image_size=32, trainable=False)
    assert not encoder.trainable_weights


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="vgg16.*resnet50.*mobilenetv3large"):
        applications_backbone("alexnet")
