"""Chunked retrieval gives the whole matrix's numbers, in a fraction of its memory."""

import tracemalloc

import numpy as np
import pytest

from vlpk.metrics import similarity_retrieval_metrics
from vlpk.metrics.chunked_retrieval import chunked_retrieval, top_k
from vlpk.tasks.retrieval import rerank


def split(images=60, captions=5, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(images, dim)).astype("float32")
    owner = np.repeat(np.arange(images), captions)
    text = image[owner] + rng.normal(scale=2.0, size=(len(owner), dim)).astype(
        "float32"
    )
    return image, text, owner


def test_equals_the_whole_matrix_for_any_chunk_size():
    images, texts, owner = split()
    want = similarity_retrieval_metrics(images @ texts.T, owner)
    assert 0 < want["i2t_r1"] < 100 and 0 < want["t2i_r1"] < 100
    for chunk_size in (1, 7, 64, 10_000):
        got = chunked_retrieval(images, texts, owner, chunk_size=chunk_size)
        assert got["contrastive"] == pytest.approx(want), chunk_size


def test_reranking_equals_reranking_the_whole_matrices():
    images, texts, owner = split()
    # A matching head that knows the answer half the time: re-ranking moves
    # the recalls, so a wrong candidate set or placement would show.
    rng = np.random.default_rng(1)
    match = rng.normal(size=(len(images), len(texts)))
    match[owner, np.arange(len(texts))] += 3.0 * (rng.random(len(texts)) < 0.5)
    calls = []

    def score_pairs(image_indices, text_indices):
        calls.append(len(image_indices))
        return match[image_indices, text_indices]

    similarity = images @ texts.T
    k = 8
    i2t = similarity_retrieval_metrics(rerank(similarity, k, score_pairs), owner)
    t2i = similarity_retrieval_metrics(
        rerank(similarity.T, k, lambda t, i: score_pairs(i, t)).T, owner
    )
    calls.clear()
    got = chunked_retrieval(
        images, texts, owner, rerank_k=k, score_pairs=score_pairs, chunk_size=13
    )
    # Top-k only, scored in one call a direction.
    assert calls == [len(images) * k, len(texts) * k]
    assert got["rerank_k"] == k
    for key, value in got["reranked"].items():
        want = i2t[key] if key.startswith("i2t") else t2i[key]
        if key != "rsum":
            assert value == pytest.approx(want), key
    assert got["reranked"]["i2t_r1"] != got["contrastive"]["i2t_r1"]


def test_memory_is_a_chunk_not_the_matrix():
    images, texts, owner = split(images=1000, captions=5, dim=32)
    matrix_bytes = 1000 * 5000 * 4

    def peak(function):
        tracemalloc.start()
        function()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    whole = peak(lambda: similarity_retrieval_metrics(images @ texts.T, owner))
    chunked = peak(lambda: chunked_retrieval(images, texts, owner, chunk_size=50))
    assert whole > 2 * matrix_bytes
    assert chunked < matrix_bytes / 4


def test_bad_input():
    images, texts, owner = split(images=3, captions=1)
    with pytest.raises(ValueError, match="entries for 3 texts"):
        chunked_retrieval(images, texts, owner[:2])
    with pytest.raises(ValueError, match="outside the image list"):
        chunked_retrieval(images, texts, [0, 1, 3])
    with pytest.raises(ValueError, match="at least one text"):
        chunked_retrieval(images, texts, [0, 0, 1])


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_k_is_the_head_of_a_stable_descending_sort(k):
    # Few distinct values: most rows tie at their k-th score.
    scores = np.random.default_rng(k).integers(0, 4, size=(50, 10)).astype("float32")
    scores[:10] += np.arange(10) * 1e-3  # and some rows without ties
    want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_k(scores, k), want)
