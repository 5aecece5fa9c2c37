"""Ranks of the right answer among scored candidates, and Recall@K from them.

Shared by the full-matrix metrics (`vlpk.metrics.retrieval`) and the chunked
ones (`vlpk.metrics.chunked_retrieval`), so both count ties the same way.
"""

import numpy as np

# Scores this close to the best positive (relative to its size) count as
# ties. float32 matmuls round each column slightly differently, so two
# captions with identical embeddings (Shapes has many: 226 of its 500 test
# images share a caption with another image) get scores a few ulps apart,
# and the order of those ulps decided ~30 image->text R@1 queries at random
# (0.2-0.4 points of R@1 in the runs measured).
TIE_TOLERANCE = 1e-6


def best_positive_ranks(similarity, positives):
    """0-based rank of the best positive in each row of `similarity`.

    The rank is the number of candidates that score strictly higher than the
    best positive, which equals its position in a descending sort; ties (to
    `TIE_TOLERANCE`, relative) go to the positive.
    """
    masked = np.where(positives, similarity, -np.inf)
    best_positive = masked.max(axis=1, keepdims=True)
    finite = np.isfinite(best_positive)
    scale = np.maximum(1.0, np.abs(np.where(finite, best_positive, 0.0)))
    threshold = best_positive + np.where(finite, TIE_TOLERANCE * scale, 0.0)
    return (similarity > threshold).sum(axis=1)


def rank_metrics(i2t, t2i, ks=(1, 5, 10)):
    """`retrieval_metrics`' dict from the 0-based rank of each image's best
    caption (`i2t`) and of each caption's image (`t2i`)."""
    metrics = {}
    for k in ks:
        metrics[f"i2t_r{k}"] = float(100.0 * np.mean(i2t < k))
    for k in ks:
        metrics[f"t2i_r{k}"] = float(100.0 * np.mean(t2i < k))
    metrics["i2t_mean_rank"] = float(np.mean(i2t) + 1)
    metrics["i2t_median_rank"] = float(np.median(i2t) + 1)
    metrics["t2i_mean_rank"] = float(np.mean(t2i) + 1)
    metrics["t2i_median_rank"] = float(np.median(t2i) + 1)
    metrics["rsum"] = float(
        sum(metrics[f"{d}_r{k}"] for d in ("i2t", "t2i") for k in ks)
    )
    return metrics
