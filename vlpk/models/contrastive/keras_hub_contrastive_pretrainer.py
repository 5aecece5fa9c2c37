"""`ContrastivePretrainer` bound to the KerasHub backbone, for `from_preset`."""

import keras

from vlpk.models.contrastive.contrastive_pretrainer import ContrastivePretrainer
from vlpk.models.contrastive.keras_hub_contrastive_preprocessor import (
    KerasHubContrastivePreprocessor,
)
from vlpk.models.contrastive.keras_hub_dual_encoder import KerasHubDualEncoderBackbone


@keras.saving.register_keras_serializable(package="vlpk")
class KerasHubContrastivePretrainer(ContrastivePretrainer):
    """A `ContrastivePretrainer` on a KerasHub CLIP or SigLIP backbone.

    `ContrastivePretrainer` itself takes this backbone; this subclass only
    names its backbone and preprocessor classes. KerasHub's
    `Task.from_preset` requires `cls.backbone_cls` to be the preset's
    backbone class and otherwise looks for a subclass that has it, so
    `ContrastivePretrainer.from_preset` of a saved task on a
    `KerasHubDualEncoderBackbone` finds and returns this class.

    Args:
        backbone: a `vlpk.models.KerasHubDualEncoderBackbone`.
        preprocessor: a `vlpk.models.KerasHubContrastivePreprocessor`, or None.

    Example:
    >>> import os, tempfile
    >>> import keras_hub
    >>> from vlpk.models import load_task
    >>> letters = "abcdefghijklmnopqrstuvwxyz"  # CLIP's BPE, one merge: "at</w>"
    >>> tokens = [*letters, *(c + "</w>" for c in letters), "at</w>",
    ...           "<|startoftext|>", "<|endoftext|>"]  # the end token last
    >>> tokenizer = keras_hub.models.CLIPTokenizer(
    ...     {token: i for i, token in enumerate(tokens)}, merges=["a t</w>"])
    >>> preset = tempfile.mkdtemp()  # a KerasHub CLIP preset: backbone, preprocessor
    >>> keras_hub.models.CLIPBackbone(
    ...     keras_hub.models.CLIPVisionEncoder(4, 8, 1, 2, 16, image_shape=(8, 8, 3)),
    ...     keras_hub.models.CLIPTextEncoder(55, 8, 8, 1, 2, 16, max_sequence_length=6),
    ...     projection_dim=4).save_to_preset(preset)
    >>> keras_hub.models.CLIPPreprocessor(tokenizer, sequence_length=6,
    ...     image_converter=keras_hub.layers.CLIPImageConverter((8, 8)),
    ... ).save_to_preset(preset)
    >>> task = load_task(preset)  # or ContrastivePretrainer(backbone, preprocessor)
    >>> type(task).__name__, type(task.backbone).__name__
    ('KerasHubContrastivePretrainer', 'KerasHubDualEncoderBackbone')
    >>> task.save_to_preset(os.path.join(preset, "run"))  # e.g. after `fit`
    >>> type(ContrastivePretrainer.from_preset(os.path.join(preset, "run"))).__name__
    'KerasHubContrastivePretrainer'

    `task.fit({"images": image_bytes, "text": captions})` fine-tunes it
    with vlpk's losses.
    """

    backbone_cls = KerasHubDualEncoderBackbone
    preprocessor_cls = KerasHubContrastivePreprocessor
