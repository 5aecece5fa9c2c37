"""Image-text retrieval metrics: Recall@K and mean/median rank (COCO protocol).

Each image may own several captions (COCO has five). Image→text retrieval
counts an image as found at rank r when the best-ranked of its captions is at
r; text→image retrieval ranks each caption's single image.
"""

import numpy as np

# Scores this close to the best positive (relative to its size) count as
# ties. float32 matmuls round each column slightly differently, so two
# captions with identical embeddings (Shapes has many: 226 of its 500 test
# images share a caption with another image) get scores a few ulps apart,
# and the order of those ulps decided ~30 image->text R@1 queries at random
# (0.2-0.4 points of R@1 in the runs measured).
TIE_TOLERANCE = 1e-6


def _ranks(similarity, positives):
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


def retrieval_metrics(image_embeddings, text_embeddings, text_to_image, ks=(1, 5, 10)):
    """Recall@K (in percent) and mean/median rank in both directions.

    Args:
        image_embeddings: `[num_images, D]`.
        text_embeddings: `[num_texts, D]`.
        text_to_image: `[num_texts]`, the index of each text's image.
        ks: the K of Recall@K.

    Returns:
        A dict with `i2t_r{k}`, `t2i_r{k}` (percent), `i2t_mean_rank`,
        `i2t_median_rank`, `t2i_mean_rank`, `t2i_median_rank` (1-based) and
        `rsum` (the sum of all recalls).

    Example:
    >>> images = np.eye(2)
    >>> texts = np.eye(2)[[0, 0, 1]]
    >>> retrieval_metrics(images, texts, [0, 0, 1])["i2t_r1"]
    100.0
    """
    images = np.asarray(image_embeddings, np.float32)
    texts = np.asarray(text_embeddings, np.float32)
    if texts.shape[0] != np.shape(text_to_image)[0]:
        raise ValueError(
            f"text_to_image has {np.shape(text_to_image)[0]} entries for "
            f"{texts.shape[0]} texts."
        )
    return similarity_retrieval_metrics(images @ texts.T, text_to_image, ks)


def similarity_retrieval_metrics(similarity, text_to_image, ks=(1, 5, 10)):
    """`retrieval_metrics` from a score matrix `[num_images, num_texts]`.

    Any score works, higher meaning a better match: cosine similarities, or
    the re-ranked scores of `vlpk.tasks.retrieval.rerank`.

    Example:
    >>> similarity_retrieval_metrics(np.eye(2), [0, 1])["t2i_r1"]
    100.0
    """
    similarity = np.asarray(similarity)
    text_to_image = np.asarray(text_to_image, np.int64)
    num_images, num_texts = similarity.shape
    if num_texts != text_to_image.shape[0]:
        raise ValueError(
            f"text_to_image has {text_to_image.shape[0]} entries for {num_texts} texts."
        )
    if text_to_image.size and (
        text_to_image.min() < 0 or text_to_image.max() >= num_images
    ):
        raise ValueError("text_to_image points outside the image list.")
    owns = text_to_image[None, :] == np.arange(num_images)[:, None]
    if not owns.any(axis=1).all():
        raise ValueError("Every image needs at least one text.")
    i2t = _ranks(similarity, owns)
    t2i = _ranks(similarity.T, owns.T)
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
