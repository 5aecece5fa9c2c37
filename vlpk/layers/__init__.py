"""Serializable Keras layers: fusion, projection, pooling and normalization."""

from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.cross_attention_fusion import CrossAttentionFusion
from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.pixel_normalization import PixelNormalization
from vlpk.layers.projection_head import ProjectionHead
from vlpk.layers.token_pooling import TokenPooling

__all__ = [
    "ConcatFusion",
    "CrossAttentionFusion",
    "LogitScale",
    "PixelNormalization",
    "ProjectionHead",
    "TokenPooling",
]
