"""CoCa-style pretraining on Shapes: contrastive + captioning LM.

The quickstart's encoders plus a 2-layer causal caption decoder that
cross-attends to the image tokens (KerasHub `TransformerDecoder`), trained
with teacher forcing. As in CoCa, the captioning loss weighs twice the
contrastive loss. Validation captions are generated greedily (set
`caption_sampler=beam` or `top_k` to change it) and scored with BLEU-4.

Run it with:

    vlpk pretrain --config training/configs/shapes_coca.py --workdir runs/coca
    vlpk pretrain --config training/configs/shapes_coca.py --smoke
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(
    name="shapes_coca",
    objectives={"contrastive": 1.0, "captioning": 2.0},
    decoder_layers=2,
    decoder_heads=2,
    decoder_hidden_dim=64,
    decoder_intermediate_dim=128,
    checkpoint_every=100,
    deterministic=True,  # resuming after a crash reproduces the weights exactly
)


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
