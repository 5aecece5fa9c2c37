"""Retrieval metrics in bounded memory: the score matrix, a chunk of queries at a time.

COCO's 5k test split has 25k captions: its `[5000, 25000]` similarity
matrix is 500 MB in float32, and ranking both directions, with ALBEF's
re-ranking on top, held several such matrices at once (float64 copies, a
full argsort, one re-ranked matrix a direction). Here each direction is
scored `chunk_size` queries at a time: a chunk's scores are computed, ranked
and dropped, so memory is `chunk_size` rows of scores, whatever the split.

Re-ranking stays top-k only: a first pass keeps each query's `k` best
candidates (`[queries, k]` indices), the matching head scores just those
pairs (one call, one progress bar), and a second pass ranks each chunk with
the new scores in place. The numbers equal `similarity_retrieval_metrics`
on the whole matrix (and on `vlpk.tasks.retrieval.rerank`'s matrices).
"""

import numpy as np

from vlpk.metrics.ranks import best_positive_ranks, rank_metrics

# Re-ranked candidates sit this far above the rest: matching logits are
# finite, cosine similarities lie in [-1, 1].
RERANK_GAP = 1e6


def chunked_retrieval(
    image_embeddings,
    text_embeddings,
    text_to_image,
    ks=(1, 5, 10),
    rerank_k=None,
    score_pairs=None,
    chunk_size=512,
):
    """Recall@K and ranks of both directions, contrastive and re-ranked.

    Args:
        image_embeddings: `[num_images, D]`.
        text_embeddings: `[num_texts, D]`.
        text_to_image: `[num_texts]`, the index of each text's image.
        ks: the K of Recall@K.
        rerank_k: re-score each query's top `k` candidates with
            `score_pairs`; None for contrastive only.
        score_pairs: `score_pairs(image_indices, text_indices)`, one score
            per pair (see `vlpk.tasks.retrieval.pair_scorer`).
        chunk_size: queries scored at once.

    Returns:
        `{"contrastive": metrics}`, plus `"reranked"` and `"rerank_k"` when
        re-ranking; metrics as in `vlpk.metrics.retrieval_metrics`.

    Example:
    >>> texts = np.eye(2)[[0, 0, 1]]
    >>> chunked_retrieval(np.eye(2), texts, [0, 0, 1], chunk_size=1)[
    ...     "contrastive"]["t2i_r1"]
    100.0
    """
    images = np.asarray(image_embeddings, np.float32)
    texts = np.asarray(text_embeddings, np.float32)
    owner = _checked_owner(text_to_image, len(images), len(texts))
    directions = {
        "i2t": _Direction(images, texts, owner, chunk_size),
        "t2i": _Direction(texts, images, owner, chunk_size, text_queries=True),
    }
    ranks = {name: d.ranks() for name, d in directions.items()}
    result = {"contrastive": rank_metrics(ranks["i2t"], ranks["t2i"], ks)}
    if rerank_k:
        reranked = {
            name: d.reranked_ranks(int(rerank_k), score_pairs)
            for name, d in directions.items()
        }
        result["reranked"] = rank_metrics(reranked["i2t"], reranked["t2i"], ks)
        result["rerank_k"] = int(rerank_k)
    return result


def _checked_owner(text_to_image, num_images, num_texts):
    owner = np.asarray(text_to_image, np.int64)
    if owner.shape != (num_texts,):
        raise ValueError(
            f"text_to_image has {owner.shape[0]} entries for {num_texts} texts."
        )
    if owner.size and (owner.min() < 0 or owner.max() >= num_images):
        raise ValueError("text_to_image points outside the image list.")
    if (np.bincount(owner, minlength=num_images) == 0).any():
        raise ValueError("Every image needs at least one text.")
    return owner


def top_k(scores, k):
    """Each row's `k` best columns, best first, ties to the lower index.

    The first `k` of a stable descending argsort (what `rerank` takes), in
    linear time: a partition finds each row's `k`-th best score, and only
    rows with ties at that score fall back to the full sort.

    Example:
    >>> top_k(np.array([[0.1, 0.9, 0.5, 0.9]]), 2).tolist()
    [[1, 3]]
    """
    negated = -np.asarray(scores)
    kth = np.partition(negated, k - 1, axis=1)[:, k - 1 : k]
    chosen = negated <= kth
    tied = chosen.sum(axis=1) != k
    rows = ~tied
    top = np.empty((len(negated), k), np.int64)
    if rows.any():
        # `nonzero` lists each row's columns in order: ties stay by index.
        columns = np.nonzero(chosen[rows])[1].reshape(-1, k)
        order = np.argsort(
            np.take_along_axis(negated[rows], columns, axis=1), axis=1, kind="stable"
        )
        top[rows] = np.take_along_axis(columns, order, axis=1)
    if tied.any():
        top[tied] = np.argsort(negated[tied], axis=1, kind="stable")[:, :k]
    return top


class _Direction:
    """One direction's queries against its candidates, by chunks of queries."""

    def __init__(self, queries, candidates, owner, chunk_size, text_queries=False):
        self.queries, self.candidates = queries, candidates
        self.owner, self.chunk_size = owner, chunk_size
        self.text_queries = text_queries

    def chunks(self):
        for start in range(0, len(self.queries), self.chunk_size):
            yield start, min(len(self.queries), start + self.chunk_size)

    def scores(self, start, end):
        return self.queries[start:end] @ self.candidates.T

    def positives(self, start, end):
        """`[end - start, candidates]`: which candidates are right for each query."""
        if self.text_queries:  # a caption's one image
            return (
                np.arange(len(self.candidates))[None, :] == self.owner[start:end, None]
            )
        return self.owner[None, :] == np.arange(start, end)[:, None]

    def ranks(self):
        return np.concatenate(
            [
                best_positive_ranks(self.scores(s, e), self.positives(s, e))
                for s, e in self.chunks()
            ]
        )

    def reranked_ranks(self, k, score_pairs):
        """Ranks after re-scoring each query's top `k` (as `rerank` orders them)."""
        k = min(k, len(self.candidates))
        top = np.concatenate([top_k(self.scores(s, e), k) for s, e in self.chunks()])
        queries = np.repeat(np.arange(len(self.queries)), k)
        pairs = (
            (top.reshape(-1), queries)
            if self.text_queries
            else (queries, top.reshape(-1))
        )
        new = np.asarray(score_pairs(*pairs), np.float64).reshape(-1, k)
        ranks = []
        for start, end in self.chunks():
            scores = self.scores(start, end).astype(np.float64) - RERANK_GAP
            rows = np.arange(end - start)[:, None]
            scores[rows, top[start:end]] = new[start:end]
            ranks.append(best_positive_ranks(scores, self.positives(start, end)))
        return np.concatenate(ranks)
