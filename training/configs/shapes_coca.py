"""CoCa-style pretraining on Shapes: contrastive + captioning LM.

The quickstart's encoders plus a 2-layer causal caption decoder that
cross-attends to the image tokens (KerasHub `TransformerDecoder`), trained
with teacher forcing. As in CoCa, the captioning loss weighs twice the
contrastive loss. Validation captions are generated greedily (set
`decoder.sampler=beam` or `top_k` to change it) and scored with BLEU-4.

Run it with:

    vlpk pretrain --config training/configs/shapes_coca.py --workdir runs/coca
    vlpk pretrain --config training/configs/shapes_coca.py --smoke
"""

from vlpk.config import (
    DecoderConfig,
    DistributionConfig,
    OptimizationConfig,
    PretrainConfig,
)

config = PretrainConfig(
    name="shapes_coca",
    objectives={"contrastive": 1.0, "captioning": 2.0},
    decoder=DecoderConfig(layers=2, heads=2, hidden_dim=64, intermediate_dim=128),
    optimization=OptimizationConfig(checkpoint_every=100),
    # Resuming after a crash reproduces the weights exactly.
    distribution=DistributionConfig(deterministic=True),
)


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
