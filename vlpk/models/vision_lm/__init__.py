"""Vision-language models on a large language model: LLaVA and PaliGemma style."""

from vlpk.models.vision_lm.adapters import load_adapters, save_adapters
from vlpk.models.vision_lm.prefix_decoder import ImagePrefixDecoder
from vlpk.models.vision_lm.streaming import stream_generate
from vlpk.models.vision_lm.vision_causal_lm import VisionCausalLM
from vlpk.models.vision_lm.vision_lm_backbone import VisionLMBackbone
from vlpk.models.vision_lm.vision_lm_preprocessor import VisionLMPreprocessor

__all__ = [
    "ImagePrefixDecoder",
    "VisionCausalLM",
    "VisionLMBackbone",
    "VisionLMPreprocessor",
    "load_adapters",
    "save_adapters",
    "stream_generate",
]
