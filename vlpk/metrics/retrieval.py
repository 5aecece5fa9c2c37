"""Image-text retrieval metrics: Recall@K and mean/median rank (COCO protocol).

Each image may own several captions (COCO has five). Image→text retrieval
counts an image as found at rank r when the best-ranked of its captions is at
r; text→image retrieval ranks each caption's single image.
"""

import numpy as np

from vlpk.metrics.chunked_retrieval import chunked_retrieval
from vlpk.metrics.ranks import TIE_TOLERANCE, rank_metrics
from vlpk.metrics.ranks import best_positive_ranks as _ranks

__all__ = ["TIE_TOLERANCE", "retrieval_metrics", "similarity_retrieval_metrics"]


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
    # Chunk by chunk: a 5k x 25k split never holds its score matrix.
    return chunked_retrieval(images, texts, text_to_image, ks)["contrastive"]


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
    return rank_metrics(i2t, t2i, ks)
