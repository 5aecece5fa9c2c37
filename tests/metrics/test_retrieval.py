import numpy as np
import pytest

from vlpk.metrics import retrieval_metrics, similarity_retrieval_metrics


def brute_force(images, texts, owner, k):
    sim = images @ texts.T
    i2t = []
    for i in range(len(images)):
        order = np.argsort(-sim[i], kind="stable")
        first = min(np.where(owner[order] == i)[0])
        i2t.append(first < k)
    t2i = []
    for t in range(len(texts)):
        order = np.argsort(-sim[:, t], kind="stable")
        t2i.append(np.where(order == owner[t])[0][0] < k)
    return 100 * np.mean(i2t), 100 * np.mean(t2i)


def test_perfect_and_hand_computed():
    images = np.eye(3, dtype="float32")
    texts = np.eye(3, dtype="float32")[[0, 0, 1, 2, 2]]
    m = retrieval_metrics(images, texts, [0, 0, 1, 2, 2])
    assert m["i2t_r1"] == 100.0 and m["t2i_r1"] == 100.0
    assert m["i2t_median_rank"] == 1.0
    # Images 0 and 1 trade captions: image 0 finds its own at rank 2 (behind
    # image 1's caption), image 1 at rank 3 (behind both of image 0's).
    texts = np.eye(3, dtype="float32")[[1, 1, 0, 2, 2]] * [[1], [0.9], [1], [1], [1]]
    m = retrieval_metrics(images, texts, [0, 0, 1, 2, 2])
    assert m["i2t_r1"] == pytest.approx(100 / 3)
    assert m["i2t_r5"] == 100.0
    assert m["t2i_r1"] == pytest.approx(100 * 2 / 5)
    assert m["i2t_mean_rank"] == pytest.approx((2 + 3 + 1) / 3)


def test_matches_brute_force_on_random_data():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(40, 8)).astype("float32")
    owner = np.repeat(np.arange(40), 3)
    texts = images[owner] + rng.normal(scale=2.0, size=(120, 8)).astype("float32")
    m = retrieval_metrics(images, texts, owner)
    for k in (1, 5, 10):
        i2t, t2i = brute_force(images, texts, owner, k)
        assert m[f"i2t_r{k}"] == pytest.approx(i2t)
        assert m[f"t2i_r{k}"] == pytest.approx(t2i)
    assert 0 < m["i2t_r1"] < 100


def test_bad_input():
    with pytest.raises(ValueError, match="entries"):
        retrieval_metrics(np.eye(2), np.eye(2), [0])
    with pytest.raises(ValueError, match="outside"):
        retrieval_metrics(np.eye(2), np.eye(2), [0, 5])
    with pytest.raises(ValueError, match="at least one"):
        retrieval_metrics(np.eye(2), np.eye(2), [0, 0])


def test_float_ties_go_to_the_positive():
    # Two images own the same caption text, so their captions' embeddings
    # are identical; the float32 matmul may still score them a few ulps
    # apart. A competitor within the tolerance is a tie, not a miss.
    similarity = np.array([[0.5, np.float32(0.5) + np.float32(3e-8)], [0.1, 0.9]])
    m = similarity_retrieval_metrics(similarity, [0, 1])
    assert m["i2t_r1"] == 100.0
    # A real margin (1e-4) still counts.
    similarity[0, 1] = 0.5001
    assert similarity_retrieval_metrics(similarity, [0, 1])["i2t_r1"] == 50.0
    # A missing score (-inf) gets no tolerance.
    similarity = np.array([[-np.inf, 0.2], [0.1, 0.9]])
    assert similarity_retrieval_metrics(similarity, [0, 1])["i2t_r1"] == 50.0


def test_identical_captions_tie_whatever_the_matmul_rounding():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(50, 64)).astype("float32")
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    # Every image's one caption is the same text as image 0's: all captions
    # are the same vector, so each image ties for its own caption.
    texts = np.repeat(images[:1], 50, axis=0)
    m = retrieval_metrics(images, texts, np.arange(50))
    assert m["i2t_r1"] == 100.0
