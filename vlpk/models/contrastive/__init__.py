"""The dual-encoder family: backbone, preprocessor and pretraining task."""

from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor
from vlpk.models.contrastive.contrastive_pretrainer import ContrastivePretrainer
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.models.contrastive.keras_hub_contrastive_preprocessor import (
    KerasHubContrastivePreprocessor,
)
from vlpk.models.contrastive.keras_hub_contrastive_pretrainer import (
    KerasHubContrastivePretrainer,
)
from vlpk.models.contrastive.keras_hub_dual_encoder import KerasHubDualEncoderBackbone
