"""The offline-weights policy, tested without network access.

Downloads are made to fail by patching the function that `keras.utils.get_file`
downloads with (`urlretrieve`) and the KaggleHub client KerasHub calls, so the
real Keras and KerasHub code paths run up to the socket.
"""

import os
import socket
import urllib.error

import h5py
import keras_hub
import numpy as np
import pytest
from keras.src.backend import config as keras_config
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils
from keras_hub.src.utils import preset_utils

from vlpk.encoders import (
    WeightsUnavailableError,
    applications_backbone,
    image_encoder_from_keras_hub,
    text_encoder_from_preset,
)
from vlpk.encoders.weights import (
    application_weights_file,
    load_preset_backbone,
)


def _no_dns(*args, **kwargs):
    raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, and an empty Keras cache in tmp_path; records URLs tried."""
    attempts = []

    def urlretrieve(url, filename, *args, **kwargs):
        attempts.append((url, filename))
        _no_dns()

    monkeypatch.setattr(file_utils, "urlretrieve", urlretrieve)
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    monkeypatch.setattr(preset_utils.kagglehub, "model_download", _no_dns)
    return attempts


def _assert_no_chain(error):
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


@pytest.mark.parametrize(
    "name, file_name",
    [
        ("vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("efficientnetv2b0", "efficientnetv2-b0_notop.h5"),
        ("mobilenetv3small", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
    ],
)
def test_applications_offline(offline, name, file_name):
    with pytest.raises(WeightsUnavailableError) as info:
        applications_backbone(name, image_size=32, weights="imagenet")
    error = info.value
    _assert_no_chain(error)
    message = str(error)
    # The file and URL named are exactly the ones Keras tried to download.
    [(url, target)] = offline
    assert os.path.basename(target) == file_name
    assert url.endswith("/" + file_name)
    assert f"`{file_name}`" in message
    assert url in message
    assert f'weights="/path/to/{file_name}"' in message
    assert f"/models/{file_name}" in message
    assert "Name or service not known" in message
    assert isinstance(error, RuntimeError)


def test_application_weights_file_table():
    name, url = application_weights_file("VGG16", include_top=True)
    assert name == "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    assert url.endswith("/vgg16/" + name)
    assert application_weights_file("MobileNetV3Large", minimalistic=True)[0] == (
        "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5"
    )
    assert application_weights_file("Xception") == (None, None)


def test_local_weights_file(offline, tmp_path):
    source, _ = applications_backbone("vgg16", image_size=32)
    path = str(tmp_path / "x.weights.h5")
    source.save_weights(path)
    loaded, _ = applications_backbone("vgg16", image_size=32, weights=path)
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert offline == []


def test_missing_local_file_is_not_a_download_error(offline):
    with pytest.raises(ValueError, match="path to the weights file"):
        applications_backbone("vgg16", image_size=32, weights="/no/such/file.h5")


def test_weights_in_keras_cache(offline, monkeypatch, tmp_path):
    # Write a file in the legacy .h5 layout Keras downloads, under the name
    # Keras looks for, in the (patched) Keras cache.
    source, _ = applications_backbone("mobilenetv3small", image_size=32)
    file_name, _ = application_weights_file("MobileNetV3Small")
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    with h5py.File(cache / file_name, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    # Our file is not the published one, so accept its hash.
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    loaded, _ = applications_backbone(
        "mobilenetv3small", image_size=32, weights="imagenet"
    )
    assert offline == []  # no download attempted
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_preset_offline(offline):
    with pytest.raises(WeightsUnavailableError) as info:
        text_encoder_from_preset("bert_tiny_en_uncased")
    error = info.value
    _assert_no_chain(error)
    message = str(error)
    assert "bert_tiny_en_uncased" in message
    assert "kaggle://keras/bert/keras/bert_tiny_en_uncased" in message
    assert "https://www.kaggle.com/models/keras/bert/keras/bert_tiny_en_uncased" in (
        message
    )
    assert "config.json" in message and "model.weights.h5" in message
    assert 'from_preset("/path/to/preset_dir")' in message
    assert "Name or service not known" in message


def test_preset_without_kagglehub(offline, monkeypatch):
    monkeypatch.setattr(preset_utils, "kagglehub", None)
    with pytest.raises(WeightsUnavailableError, match="pip install kagglehub") as info:
        load_preset_backbone("bert_tiny_en_uncased")
    _assert_no_chain(info.value)


def test_unknown_preset_is_not_a_download_error(offline):
    with pytest.raises(ValueError, match="Unknown preset"):
        load_preset_backbone("no_such_preset_anywhere")


def _tiny_bert():
    return keras_hub.models.BertBackbone(
        vocabulary_size=20,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )


def test_local_text_preset_dir(offline, tmp_path):
    backbone = _tiny_bert()
    preset = str(tmp_path / "tiny_bert")
    backbone.save_to_preset(preset)
    encoder = text_encoder_from_preset(preset, pooling="pooler")
    assert encoder.output_dim == 8
    for a, b in zip(backbone.weights, encoder.backbone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_local_image_preset_dir(offline, tmp_path):
    backbone = keras_hub.models.VGGBackbone(
        stackwise_num_repeats=[1], stackwise_num_filters=[4], image_shape=(8, 8, 3)
    )
    preset = str(tmp_path / "tiny_vgg")
    backbone.save_to_preset(preset)
    encoder = image_encoder_from_keras_hub(preset)
    assert encoder.output_shape == (None, 4)
