"""The quickstart experiment: a small CNN + a 2-layer BERT dual encoder on Shapes.

Run it with:

    vlpk quickstart --config training/configs/shapes_tiny.py
    vlpk quickstart --config training/configs/shapes_tiny.py --smoke  # seconds

`vlpk quickstart` with no `--config` runs exactly these defaults.
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(name="quickstart")


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
