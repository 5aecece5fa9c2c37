"""LoRA adapters of a `VisionCausalLM`, saved on their own and loaded back.

LoRA fine-tuning of a vision LM trains more than the LM's adapters: the
connector (and often the image encoder) train fully. LLaVA saves both, the
adapters and `non_lora_trainables.bin`; so does this, in one folder:

- `lora.lora.h5`: the LM's adapters, by KerasHub's `save_lora_weights`
  (keyed by layer index, keras-hub #2701: load them into the same
  architecture);
- `non_lora.weights.npz`: every weight of the connector and the image
  encoder, in their order, and the LM's trainable weights that are not
  adapters, by path. KerasHub's `enable_lora` leaves the biases of the
  adapted layers trainable, and `save_lora_weights` does not save them:
  without these, a reloaded model differs from the trained one.

A `.keras` save, by contrast, merges the adapters into the kernels.
"""

import os

import numpy as np

LORA_FILE = "lora.lora.h5"
VISION_PARTS = ("connector", "image_encoder")
NON_LORA_FILE = "non_lora.weights.npz"


def save_adapters(task, folder):
    """Writes the LM's LoRA adapters and the vision side's weights to `folder`.

    Args:
        task: a `VisionCausalLM` whose LM has LoRA enabled
            (`task.backbone.language_model.enable_lora(rank)`).
        folder: created if needed.

    Raises:
        ValueError: the LM has no LoRA layers.
    """
    os.makedirs(folder, exist_ok=True)
    backbone = task.backbone
    backbone.language_model.save_lora_weights(os.path.join(folder, LORA_FILE))
    arrays = {
        f"{part}/{i}": np.asarray(w)
        for part in VISION_PARTS
        for i, w in enumerate(getattr(backbone, part).weights)
    }
    for weight in _lm_trainables(backbone.language_model):
        arrays[f"lm:{weight.path}"] = np.asarray(weight)
    np.savez(os.path.join(folder, NON_LORA_FILE), **arrays)


def _lm_trainables(language_model):
    """The LM's trainable weights that are not LoRA factors, by path."""
    return {
        w.path: w
        for w in language_model.trainable_weights
        if not w.path.rpartition("/")[2].startswith("lora_kernel")
    }.values()


def load_adapters(task, folder):
    """Loads `save_adapters`' files into `task` (the base model they were trained on).

    Enables LoRA on the LM at the saved rank (KerasHub's
    `load_lora_weights`), then sets the connector's and the image
    encoder's weights.

    Raises:
        ValueError: a saved part has another number or shape of weights.
    """
    backbone = task.backbone
    backbone.language_model.load_lora_weights(os.path.join(folder, LORA_FILE))
    with np.load(os.path.join(folder, NON_LORA_FILE)) as arrays:
        lm = {w.path: w for w in _lm_trainables(backbone.language_model)}
        for key in arrays.files:
            if key.startswith("lm:"):
                _assign(lm, key[3:], arrays[key], folder)
        for part in VISION_PARTS:
            weights = getattr(backbone, part).weights
            saved = sorted(
                (k for k in arrays.files if k.startswith(f"{part}/")),
                key=lambda k: int(k.rpartition("/")[2]),
            )
            if len(saved) != len(weights):
                raise ValueError(
                    f"{folder}: {len(saved)} saved {part} weights, the model has "
                    f"{len(weights)}; load the adapters into the model they "
                    "were trained on."
                )
            for key, weight in zip(saved, weights):
                if tuple(arrays[key].shape) != tuple(weight.shape):
                    raise ValueError(
                        f"{folder}: {key} has shape {arrays[key].shape}, the "
                        f"model's {weight.path} {tuple(weight.shape)}."
                    )
                weight.assign(arrays[key])


def _assign(weights, path, value, folder):
    if path not in weights or tuple(weights[path].shape) != value.shape:
        raise ValueError(
            f"{folder}: the saved LM weight {path} {value.shape} is not in this "
            "model; load the adapters into the model they were trained on."
        )
    weights[path].assign(value)
