"""Serializable Keras layers: fusion, heads, projection, pooling, normalization."""

from vlpk.layers.caption_decoder import CaptionDecoder, next_token_targets
from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.cross_attention_fusion import CrossAttentionFusion
from vlpk.layers.hard_negatives import HardNegativeSampler, MatchingHead
from vlpk.layers.head_logit_scale import HeadLogitScale
from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.pixel_normalization import PixelNormalization
from vlpk.layers.projection_head import ProjectionHead
from vlpk.layers.token_pooling import TokenPooling

__all__ = [
    "CaptionDecoder",
    "HardNegativeSampler",
    "HeadLogitScale",
    "MatchingHead",
    "next_token_targets",
    "ConcatFusion",
    "CrossAttentionFusion",
    "LogitScale",
    "PixelNormalization",
    "ProjectionHead",
    "TokenPooling",
]
