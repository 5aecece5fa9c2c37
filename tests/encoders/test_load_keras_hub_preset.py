"""`load_keras_hub_preset`: preset names fail clearly offline, folders load.

The network is cut at the socket (`connect`, `create_connection`,
`getaddrinfo` raise `OSError` at once), so KerasHub and KaggleHub run their
real download code up to the socket and the test never waits on a timeout.
"""

import pathlib
import socket
import traceback

import keras_hub
import numpy as np
import pytest
import requests

from vlpk.encoders import (
    PresetNotFoundError,
    WeightsUnavailableError,
    load_keras_hub_preset,
)
from vlpk.encoders.weights import load_preset_backbone
from vlpk.errors import InputError


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """No network in this process, and an empty KaggleHub cache."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    return attempts


@pytest.mark.parametrize(
    "cls, name, handle",
    [
        (
            keras_hub.models.CLIPBackbone,
            "clip_vit_base_patch16",
            "kaggle://keras/clip/keras/clip_vit_base_patch16",
        ),
        (
            keras_hub.models.SigLIPBackbone,
            "siglip_base_patch16_224",
            "kaggle://keras/siglip/keras/siglip_base_patch16_224",
        ),
        (
            keras_hub.models.SigLIPPreprocessor,
            "siglip_base_patch16_224",
            "kaggle://keras/siglip/keras/siglip_base_patch16_224",
        ),
    ],
)
def test_preset_name_offline(no_network, cls, name, handle):
    with pytest.raises(WeightsUnavailableError) as info:
        load_keras_hub_preset(cls, name)
    error = info.value
    assert no_network, "KerasHub did not try the network"
    # Raised `from None`: the socket errors are not chained below it.
    assert error.__cause__ is None and error.__suppress_context__
    printed = "".join(traceback.format_exception(error))
    assert printed.count("Traceback") == 1
    assert "During handling" not in printed and "direct cause" not in printed
    assert "urllib3" not in printed and "requests" not in printed

    message = str(error)
    assert f"Could not download the KerasHub preset {name!r} ({handle}/" in message
    assert "vlpk found no network access" in message
    assert "OSError: network disabled in test" in message
    assert "https://www.kaggle.com/models/" + handle.split("://")[1] in message
    assert 'from_preset("/path/to/preset_dir")' in message
    assert (
        f'`keras_hub.models.{cls.__name__}.from_preset("{name}")'
        '.save_to_preset("/path/to/preset_dir")`'
    ) in message
    assert "download the files" in message


def test_local_folders_load_offline(
    no_network, keras_hub_clip_preset, keras_hub_siglip_preset
):
    for preset, preprocessor_cls in [
        (keras_hub_clip_preset, keras_hub.models.CLIPPreprocessor),
        (keras_hub_siglip_preset, keras_hub.models.SigLIPPreprocessor),
    ]:
        backbone = load_keras_hub_preset(keras_hub.models.Backbone, preset.path)
        assert type(backbone) is type(preset.backbone)
        for a, b in zip(preset.backbone.weights, backbone.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        preprocessor = load_keras_hub_preset(preprocessor_cls, preset.path)
        assert preprocessor.sequence_length == preset.preprocessor.sequence_length
    assert no_network == []


def test_path_object_loads(no_network, keras_hub_siglip_preset):
    # KerasHub's `from_preset` takes only strings; a `pathlib.Path` works here.
    path = pathlib.Path(keras_hub_siglip_preset.path)
    tokenizer = load_keras_hub_preset(keras_hub.models.SigLIPTokenizer, path)
    assert tokenizer.vocabulary_size() == (
        keras_hub_siglip_preset.tokenizer.vocabulary_size()
    )


@pytest.mark.parametrize("relative", [False, True])
def test_missing_local_folder(no_network, tmp_path, monkeypatch, relative):
    monkeypatch.chdir(tmp_path)
    path = "./no_such_clip" if relative else str(tmp_path / "no_such_clip")
    with pytest.raises(PresetNotFoundError) as info:
        load_keras_hub_preset(keras_hub.models.CLIPBackbone, path)
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, FileNotFoundError)
    assert f"The KerasHub preset folder {path} does not exist." in str(info.value)
    assert no_network == []


def test_file_is_not_a_preset_folder(no_network, tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"")
    with pytest.raises(PresetNotFoundError, match="is a file, not a folder"):
        load_keras_hub_preset(keras_hub.models.CLIPBackbone, path)


def test_server_error_is_not_reported_as_no_network():
    def loader(preset):
        raise requests.exceptions.HTTPError("503 Server Error: Unavailable")

    with pytest.raises(WeightsUnavailableError) as info:
        load_preset_backbone("some_preset", loader=loader)
    message = str(info.value)
    assert "the server refused the download" in message
    assert "no network" not in message
