"""The dual-encoder family: backbone, preprocessor and pretraining task."""

from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor
from vlpk.models.contrastive.contrastive_pretrainer import ContrastivePretrainer
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
