"""Generating text from trained decoders: captions with KerasHub samplers."""

from vlpk.generation.captioning import decode_captions, generate_captions, get_sampler

__all__ = ["decode_captions", "generate_captions", "get_sampler"]
