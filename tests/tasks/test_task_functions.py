import numpy as np
import pytest

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    VOCABULARY_SIZE,
    tiny_image_encoder,
    tiny_text_encoder,
)
from vlpk.models import DualEncoderBackbone
from vlpk.tasks.retrieval import rerank
from vlpk.tasks.zero_shot import class_embeddings, top_k_accuracy
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer


def test_top_k_accuracy_by_hand():
    # 6 classes; true-class ranks 0, 2, 5 and 1 (0-based).
    scores = np.array(
        [
            [9, 1, 2, 3, 4, 5],
            [1, 9, 8, 3, 4, 5],  # label 3: 9, 8, 5, 4 above it → rank 4
            [1, 2, 3, 4, 5, 6],  # label 0: rank 5
            [5, 9, 1, 1, 1, 1],  # label 0: rank 1
        ],
        float,
    )
    labels = [0, 3, 0, 0]
    assert top_k_accuracy(scores, labels, ks=(1, 2, 5)) == {
        "top1": 25.0,
        "top2": 50.0,
        "top5": 75.0,
    }
    # k above the class count is left out rather than reported as 100%.
    assert top_k_accuracy(scores[:, :4], [0, 3, 0, 0], ks=(1, 5)).keys() == {"top1"}


def test_rerank_reorders_only_the_top_k():
    similarity = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    calls = []

    def score(rows, cols):
        calls.append((rows.tolist(), cols.tolist()))
        return cols.astype(float)  # prefers higher column numbers

    out = rerank(similarity, 2, score)
    assert calls == [([0, 0, 1, 1], [0, 1, 3, 2])]
    # Row 0: columns 0, 1 re-scored (1 now beats 0); 2 and 3 stay below, in
    # their old order.
    assert np.argsort(-out[0]).tolist() == [1, 0, 2, 3]
    assert np.argsort(-out[1]).tolist() == [3, 2, 1, 0]


def test_class_embeddings_average_normalized_templates():
    words = ["a photo of a circle.", "a square.", "a photo of a square."]
    vocabulary = learn_vocabulary(words, VOCABULARY_SIZE)
    text_pre = TextPreprocessor(wordpiece_tokenizer(vocabulary), SEQUENCE_LENGTH)
    model = DualEncoderBackbone(
        tiny_image_encoder("pooled"), tiny_text_encoder(), embedding_dim=8
    )
    templates = ("a photo of a {}.", "a {}.")
    got = class_embeddings(model, ["circle", "square"], text_pre, templates)
    for i, name in enumerate(["circle", "square"]):
        prompts = text_pre(np.array([t.format(name) for t in templates]))
        e = np.asarray(model.get_text_embeddings(**prompts))
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
        mean = e.mean(axis=0)
        np.testing.assert_allclose(got[i], mean / np.linalg.norm(mean), atol=1e-5)
    with pytest.raises(ValueError, match="exactly one"):
        class_embeddings(model, ["circle"], text_pre, ("no slot",))
