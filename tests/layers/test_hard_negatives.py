"""HardNegativeSampler and MatchingHead: the image-text matching head's parts."""

import numpy as np
import tensorflow as tf

from tests.test_case import run_layer_test
from vlpk.layers.hard_negatives import HardNegativeSampler, MatchingHead

B, D, N, C, T, H = 6, 4, 3, 5, 4, 8


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


def make_inputs(ids=(0, 1, 2, 3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    image = unit(rng.normal(size=(B, D)))
    text = unit(rng.normal(size=(B, D)))
    scale = np.full((B, 1), 10.0, "float32")
    mask = np.ones((B, T), "int32")
    mask[:, -1] = np.arange(B) % 2  # distinguishable masks
    return {
        "contrastive": np.concatenate([image, text, scale], axis=-1),
        "image_id": np.asarray(ids, "int32"),
        # Each row's tokens carry its index, so picked rows can be read back.
        "image_tokens": np.broadcast_to(
            np.arange(B, dtype="float32")[:, None, None], (B, N, C)
        ).copy(),
        "text_tokens": np.broadcast_to(
            np.arange(B, dtype="float32")[:, None, None], (B, T, H)
        ).copy(),
        "padding_mask": mask,
    }


def picked(outputs):
    """Which rows the sampler chose as negative text and negative image."""
    text = np.asarray(outputs["text_tokens"])[B : 2 * B, 0, 0].astype(int)
    image = np.asarray(outputs["image_tokens"])[2 * B :, 0, 0].astype(int)
    return text, image


def test_triplet_layout_and_hardest_negative_at_inference():
    inputs = make_inputs()
    outputs = HardNegativeSampler(seed=0)(inputs, training=False)
    assert outputs["image_tokens"].shape == (3 * B, N, C)
    assert outputs["text_tokens"].shape == (3 * B, T, H)
    assert outputs["padding_mask"].shape == (3 * B, T)
    # Rows 0..B are the positives, unchanged.
    np.testing.assert_array_equal(outputs["text_tokens"][:B], inputs["text_tokens"])
    np.testing.assert_array_equal(outputs["image_tokens"][:B], inputs["image_tokens"])
    image, text = inputs["contrastive"][:, :D], inputs["contrastive"][:, D : 2 * D]
    similarity = image @ text.T
    np.fill_diagonal(similarity, -np.inf)
    negative_text, negative_image = picked(outputs)
    np.testing.assert_array_equal(negative_text, similarity.argmax(axis=1))
    np.testing.assert_array_equal(negative_image, similarity.T.argmax(axis=1))
    # The negative text keeps its own padding mask.
    np.testing.assert_array_equal(
        outputs["padding_mask"][B : 2 * B], inputs["padding_mask"][negative_text]
    )


def test_captions_of_the_same_image_are_never_negatives():
    # Rows 0, 1, 2 are captions of one image, as are rows 3, 4, 5.
    ids = (7, 7, 7, 9, 9, 9)
    sampler = HardNegativeSampler(seed=1)
    for seed in range(20):
        outputs = sampler(make_inputs(ids, seed=seed), training=True)
        negative_text, negative_image = picked(outputs)
        ids_array = np.asarray(ids)
        assert np.all(ids_array[negative_text] != ids_array), negative_text
        assert np.all(ids_array[negative_image] != ids_array), negative_image


def test_sampling_follows_the_similarities():
    # Image 0 is far closer to text 1 than to any other: sampling with
    # softmax(scale * sim) must pick text 1 for it nearly always.
    inputs = make_inputs()
    contrastive = inputs["contrastive"].copy()
    contrastive[1, D : 2 * D] = contrastive[0, :D]
    contrastive[:, -1] = 50.0
    inputs["contrastive"] = contrastive
    sampler = HardNegativeSampler(seed=3)
    counts = np.zeros(B)
    for _ in range(30):
        negative_text, _ = picked(sampler(inputs, training=True))
        counts[negative_text[0]] += 1
    assert counts[1] >= 28, counts
    assert counts[0] == 0, counts


def test_gradient_flows_to_the_negative_tokens():
    inputs = {k: tf.constant(v) for k, v in make_inputs().items()}
    with tf.GradientTape() as tape:
        tape.watch(inputs["text_tokens"])
        outputs = HardNegativeSampler(seed=0)(inputs, training=False)
        loss = tf.reduce_sum(outputs["text_tokens"][B : 2 * B])
    grad = tape.gradient(loss, inputs["text_tokens"]).numpy()
    negative_text, _ = picked(outputs)
    expected = np.zeros(B)
    for row in negative_text:
        expected[row] += T * H
    np.testing.assert_allclose(grad.sum(axis=(1, 2)), expected)


def test_sampler_layer_contract(tmp_path):
    run_layer_test(
        HardNegativeSampler,
        {"seed": 0},
        make_inputs(),
        tmp_path,
        expected_output_shape={
            "image_tokens": (3 * B, N, C),
            "text_tokens": (3 * B, T, H),
            "padding_mask": (3 * B, T),
        },
        run_training=False,  # no weights
    )


def test_matching_head_layout(tmp_path):
    fused = np.random.default_rng(0).normal(size=(3 * B, T, H)).astype("float32")
    # 3B pairs in, B rows out: Keras's fit cannot pair them with targets, so
    # the head trains in the pretrainer's model test instead.
    run_layer_test(
        MatchingHead,
        {},
        fused,
        tmp_path,
        expected_output_shape=(B, 3),
        run_training=False,
    )
    head = MatchingHead()
    logits = np.asarray(head(fused))
    direct = np.asarray(head.dense(fused[:, 0, :]))[:, 0]
    # Column j of row i is pair j * B + i.
    for j in range(3):
        np.testing.assert_allclose(logits[:, j], direct[j * B : (j + 1) * B], 1e-6)


def test_matching_head_accepts_pooled_vectors():
    vectors = np.ones((3 * B, H), "float32")
    assert MatchingHead()(vectors).shape == (B, 3)
    assert MatchingHead(group_size=1)(vectors).shape == (3 * B, 1)
