"""The preset checks, after KerasHub's `run_preset_test`.

File names come from KerasHub's `preset_utils`, so the layout checked is
the one KerasHub writes and reads (`config.json`, `metadata.json`, ...).
"""

import json
import os
import shutil

import keras
import keras_hub
from keras_hub.src.utils import preset_utils

from tests.case.common import _check_shapes, assert_same_data, call_layer, temp_dir

# What each converter's `save_to_preset` writes.
_CONVERTER_FILES = (
    (keras_hub.layers.ImageConverter, preset_utils.IMAGE_CONVERTER_CONFIG_FILE),
    (keras_hub.layers.AudioConverter, preset_utils.AUDIO_CONVERTER_CONFIG_FILE),
    (keras_hub.layers.VideoConverter, preset_utils.VIDEO_CONVERTER_CONFIG_FILE),
)


def _preprocessor_files(preprocessor):
    config_file = getattr(
        preprocessor, "config_file", preset_utils.PREPROCESSOR_CONFIG_FILE
    )
    files = {config_file: type(preprocessor)}
    for layer in preprocessor._flatten_layers(include_self=False):
        if isinstance(layer, keras_hub.tokenizers.Tokenizer):
            files[layer.config_file] = type(layer)
            # Assets go in `assets/<config file stem>/`: `assets/tokenizer/`.
            folder = os.path.join(
                preset_utils.ASSET_DIR, layer.config_file.split(".")[0]
            )
            for asset in layer.file_assets or ():
                files[os.path.join(folder, asset)] = None
        for converter_cls, converter_file in _CONVERTER_FILES:
            if isinstance(layer, converter_cls):
                files[converter_file] = type(layer)
    return files


def expected_preset_files(obj, with_task_config=True):
    """The files KerasHub's `save_to_preset` writes for `obj`.

    Args:
        obj: a Backbone, Preprocessor or Task.
        with_task_config: for a Task, whether `task.json` (and the head's
            `task.weights.h5`) are expected. KerasHub also loads tasks from
            presets holding only a backbone and a preprocessor.
    Returns:
        A dict from file path (inside the preset) to the class its JSON
        config must name, or None for files that are not configs.
    """
    if isinstance(obj, keras_hub.models.Task):
        files = expected_preset_files(obj.backbone)
        if obj.preprocessor is not None:
            files.update(_preprocessor_files(obj.preprocessor))
        if with_task_config:
            files[preset_utils.TASK_CONFIG_FILE] = type(obj)
            if obj.has_task_weights():
                files[preset_utils.TASK_WEIGHTS_FILE] = None
        return files
    if isinstance(obj, keras_hub.models.Preprocessor):
        # `Preprocessor.from_preset` reads the backbone's config to find its
        # class, so a preprocessor preset needs `config.json` too.
        return {preset_utils.CONFIG_FILE: None, **_preprocessor_files(obj)}
    return {
        preset_utils.CONFIG_FILE: type(obj),
        preset_utils.METADATA_FILE: None,
        preset_utils.MODEL_WEIGHTS_FILE: None,
    }


def _exists(preset_dir, name):
    if os.path.exists(os.path.join(preset_dir, name)):
        return True
    # Large backbones save sharded weights with an index instead.
    sharded = preset_utils.SHARDED_MODEL_WEIGHTS_CONFIG_FILE
    return name == preset_utils.MODEL_WEIGHTS_FILE and _exists(preset_dir, sharded)


def assert_preset_layout(preset_dir, obj, with_task_config=True):
    """Checks a local preset folder has the files KerasHub writes for `obj`.

    Each JSON config must also name the class of the object it rebuilds.

    Args:
        preset_dir: the preset folder.
        obj: the Backbone, Preprocessor or Task saved there.
        with_task_config: see `expected_preset_files`.
    """
    files = expected_preset_files(obj, with_task_config)
    missing = sorted(f for f in files if not _exists(preset_dir, f))
    assert not missing, f"preset {preset_dir} lacks {missing}"
    for name, cls in files.items():
        if cls is None:
            continue
        with open(os.path.join(preset_dir, name), encoding="utf-8") as file:
            registered_name = json.load(file)["registered_name"]
        registered = keras.saving.get_registered_object(registered_name)
        assert registered is cls, f"{name} names {registered_name}, not {cls}"


def _outputs(instance, input_data):
    if isinstance(instance, keras_hub.models.Task):
        return instance.predict(input_data, verbose=0)
    return call_layer(instance, input_data)


def _round_trip(cls, instance, preset, folder, input_data, init_kwargs):
    instance.save_to_preset(folder)
    if isinstance(instance, keras_hub.models.Preprocessor):
        # A preprocessor saves no backbone config; copy the source preset's.
        config = preset_utils.get_file(preset, preset_utils.CONFIG_FILE)
        shutil.copy(config, os.path.join(folder, preset_utils.CONFIG_FILE))
    assert_preset_layout(folder, instance)
    reloaded = cls.from_preset(folder, **init_kwargs)
    assert type(reloaded) is type(instance), (type(reloaded), type(instance))
    return _outputs(reloaded, input_data)


def run_preset_test(
    cls,
    preset,
    input_data,
    expected_output_shape=None,
    expected_output=None,
    init_kwargs=None,
    tmp_path=None,
    atol=1e-5,
):
    """Loads a preset, checks its outputs, and round-trips it through a preset.

    Checks that `cls.from_preset` refuses a preset that does not exist; that
    a local preset folder has KerasHub's layout; the expected outputs (a
    Backbone's or Preprocessor's call, a Task's `predict`); that a model
    also builds with `load_weights=False`; and that `save_to_preset` of the
    loaded object into a new folder writes KerasHub's layout and reloads with
    equal outputs.

    Args:
        cls: the class to load with, e.g. `keras_hub.models.BertBackbone`.
        preset: a local preset folder or a KerasHub preset handle.
        input_data: the inputs: raw for a Preprocessor or a Task with a
            preprocessor, preprocessed for a Backbone.
        expected_output_shape: the output shape(s), batch dimension included.
        expected_output: the expected outputs.
        init_kwargs: extra `from_preset` arguments (e.g. `num_classes`).
        tmp_path: a folder for the round trip; a temporary one when None.
        atol: absolute tolerance on outputs.
    Returns:
        The outputs of the loaded object.
    """
    init_kwargs = init_kwargs or {}
    with temp_dir(tmp_path, "missing") as folder:
        try:
            cls.from_preset(os.path.join(folder, "no_such_preset"), **init_kwargs)
        except Exception:  # KerasHub raises ValueError; any refusal will do
            pass
        else:
            raise AssertionError("from_preset loaded a preset that does not exist")

    instance = cls.from_preset(preset, **init_kwargs)
    if os.path.isdir(str(preset)):
        has_task_config = os.path.exists(
            os.path.join(str(preset), preset_utils.TASK_CONFIG_FILE)
        )
        assert_preset_layout(str(preset), instance, has_task_config)
    output = _outputs(instance, input_data)
    _check_shapes(output, expected_output_shape)
    if expected_output is not None:
        assert_same_data(output, expected_output, atol=atol)
    if isinstance(instance, keras.Model):
        cls.from_preset(preset, load_weights=False, **init_kwargs)

    with temp_dir(tmp_path, "preset") as folder:
        reloaded_output = _round_trip(
            cls, instance, preset, folder, input_data, init_kwargs
        )
    try:
        assert_same_data(output, reloaded_output, atol=atol)
    except AssertionError as error:
        raise AssertionError(f"outputs changed through a preset: {error}") from error
    return output
