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
    >>> task = ContrastivePretrainer(  # doctest: +SKIP
    ...     KerasHubDualEncoderBackbone.from_keras_hub_preset(path),
    ...     KerasHubContrastivePreprocessor.from_keras_hub_preset(path))
    >>> task.fit({"images": jpeg_bytes, "text": captions}, batch_size=32)
    ... # doctest: +SKIP
    >>> task.save_to_preset("runs/clip")  # doctest: +SKIP
    >>> ContrastivePretrainer.from_preset("runs/clip")  # doctest: +SKIP
    """

    backbone_cls = KerasHubDualEncoderBackbone
    preprocessor_cls = KerasHubContrastivePreprocessor
