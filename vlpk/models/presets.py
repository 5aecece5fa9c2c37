"""Loading whatever task a preset holds: a vlpk task, or a KerasHub CLIP/SigLIP."""

import json
import os

import keras

from vlpk.encoders.weights import PresetNotFoundError
from vlpk.models.contrastive import (
    KerasHubContrastivePreprocessor,
    KerasHubContrastivePretrainer,
    KerasHubDualEncoderBackbone,
)
from vlpk.models.task import VisionLanguageTask


def load_task(preset):
    """The task a preset holds, with its preprocessor and weights.

    - A folder written by a vlpk task's `save_to_preset` (it has `task.json`)
      loads as that task, through KerasHub's `from_preset`.
    - A KerasHub CLIP or SigLIP preset (a folder written by KerasHub's
      `save_to_preset`, or a preset name such as `"clip_vit_base_patch16"`)
      becomes a `ContrastivePretrainer` on a `KerasHubDualEncoderBackbone`,
      ready to fine-tune, evaluate and export. Names load under vlpk's
      offline policy: without network they fail with
      `vlpk.encoders.WeightsUnavailableError`, which says how to pass a folder.

    Args:
        preset: a preset folder, or a KerasHub preset name or handle.

    Returns:
        A `vlpk.models.VisionLanguageTask`.

    Raises:
        vlpk.encoders.PresetNotFoundError: a path that is not a folder.
        ValueError: a folder that is neither kind of preset.

    Example:
    >>> import os, tempfile
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.models import ContrastivePreprocessor, ContrastivePretrainer
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> config = PretrainConfig().smoke()  # a few thousand weights
    >>> tokenizer = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"])
    >>> backbone = build_dual_encoder(config, tokenizer.vocabulary_size())
    >>> preprocessor = ContrastivePreprocessor(
    ...     tokenizer, ImagePreprocessor(config.image.size),
    ...     sequence_length=config.text.sequence_length)
    >>> preset = os.path.join(tempfile.mkdtemp(), "preset")
    >>> ContrastivePretrainer(backbone, preprocessor).save_to_preset(preset)
    >>> task = load_task(preset)
    >>> type(task).__name__, type(task.preprocessor).__name__
    ('ContrastivePretrainer', 'ContrastivePreprocessor')

    The task takes raw data again: `task.fit({"images": ..., "text": ...})`.
    """
    preset = os.fspath(preset)
    task_class = _saved_task_class(preset)
    if task_class is not None:
        return task_class.from_preset(preset)
    if os.path.exists(preset) and not os.path.isdir(preset):
        raise PresetNotFoundError(
            f"{preset} is a file; a preset is the folder `save_to_preset` writes."
        )
    return KerasHubContrastivePretrainer(
        KerasHubDualEncoderBackbone.from_keras_hub_preset(preset),
        KerasHubContrastivePreprocessor.from_keras_hub_preset(preset),
    )


def is_task_preset(path):
    """Whether `path` is a preset folder (it has KerasHub's `metadata.json`)."""
    return os.path.isfile(os.path.join(os.fspath(path), "metadata.json"))


def _saved_task_class(preset):
    """The vlpk task class named by `<preset>/task.json`, or None."""
    path = os.path.join(preset, "task.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    name = config.get("registered_name") or config.get("class_name")
    task_class = keras.saving.get_registered_object(name)
    if not (
        isinstance(task_class, type) and issubclass(task_class, VisionLanguageTask)
    ):
        raise ValueError(
            f"{path} holds a {name}, not a vlpk task: load it with KerasHub's "
            "own `from_preset`."
        )
    return task_class
