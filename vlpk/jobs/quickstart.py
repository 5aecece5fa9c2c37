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
    >>> # Not run here: it generates data, trains, evaluates and exports, 25 s
    >>> # even smoke-sized (tests/test_quickstart.py runs it):
    >>> metrics = run_quickstart(PretrainConfig().smoke())  # doctest: +SKIP

    `metrics["retrieval"]` then holds the test split's Recall@K
    (`i2t_r1`, ...), as `metrics.json` in the workdir.
    """
    return run_pretrain(config or PretrainConfig(), **kwargs)
