"""The quickstart model trained with SigLIP's sigmoid loss instead of CLIP's.

Run it with:

    vlpk pretrain --config training/configs/shapes_siglip.py --workdir runs/siglip
    vlpk pretrain --config training/configs/shapes_siglip.py --smoke
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(name="shapes_siglip", loss="siglip")


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
