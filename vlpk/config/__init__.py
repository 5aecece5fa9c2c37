"""Experiment configs: small dataclasses, loadable from Python files.

A config only holds numbers and names; `vlpk.jobs.recipes` turns it into the same
public objects a user would build by hand. `PretrainConfig` is nested by part,
as big_vision's configs are: one block for each thing a recipe builds
(`image`, `text`, `fusion`, `decoder`), one for the data, one for the
optimization and one for the hardware. Experiment files under
`training/configs/` define a module-level `config` (and optionally a `smoke()`
function that shrinks it to run anywhere).
"""

from vlpk.config.base import ConfigBase
from vlpk.config.blocks import (
    KERAS_CV_PREFIX,
    NORMALIZATIONS,
    DataConfig,
    DecoderConfig,
    DistributionConfig,
    FusionConfig,
    ImageConfig,
    OptimizationConfig,
    TextConfig,
    TransformerConfig,
    applications_constructor,
)
from vlpk.config.files import load_config
from vlpk.config.pretrain import OBJECTIVES, PretrainConfig

__all__ = [
    "KERAS_CV_PREFIX",
    "NORMALIZATIONS",
    "OBJECTIVES",
    "ConfigBase",
    "DataConfig",
    "DecoderConfig",
    "DistributionConfig",
    "FusionConfig",
    "ImageConfig",
    "OptimizationConfig",
    "PretrainConfig",
    "TextConfig",
    "TransformerConfig",
    "applications_constructor",
    "load_config",
]
