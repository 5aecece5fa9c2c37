"""`vlpk quickstart`: the pretraining job with the default config.

It generates Shapes, learns the vocabulary, pretrains the default small dual
encoder, evaluates retrieval, writes TensorBoard logs and `metrics.json`, and
exports a SavedModel to `saved_models/quickstart/<version>/`.
"""

from vlpk.config import PretrainConfig
from vlpk.jobs.pretrain import run_pretrain


def run_quickstart(config=None, **kwargs):
    """Runs `vlpk.jobs.pretrain.run_pretrain` with the default `PretrainConfig`.

    Example:
    >>> metrics = run_quickstart(workdir="runs/quickstart")  # doctest: +SKIP
    >>> metrics["retrieval"]["i2t_r1"]  # doctest: +SKIP
    """
    return run_pretrain(config or PretrainConfig(), **kwargs)
