"""ALBEF/BLIP-style pretraining on Shapes: contrastive + matching + masked LM.

The quickstart's encoders (small CNN, 2-layer BERT) feed a 2-layer
cross-attention fusion encoder. Three objectives train together with equal
weights: image-text contrastive, image-text matching on hard negatives drawn
from the contrastive similarities, and masked LM conditioned on the image.
A checkpoint is written every 100 steps; after a crash, the same command
resumes at the same batch.

Run it with:

    vlpk pretrain --config training/configs/shapes_albef.py --workdir runs/albef
    vlpk pretrain --config training/configs/shapes_albef.py --smoke
"""

from vlpk.config import (
    DistributionConfig,
    FusionConfig,
    OptimizationConfig,
    PretrainConfig,
)

config = PretrainConfig(
    name="shapes_albef",
    objectives={"contrastive": 1.0, "matching": 1.0, "masked_lm": 1.0},
    fusion=FusionConfig(
        kind="cross_attention", layers=2, heads=2, intermediate_dim=128
    ),
    optimization=OptimizationConfig(checkpoint_every=100),
    # Resuming after a crash reproduces the weights exactly.
    distribution=DistributionConfig(deterministic=True),
)


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
