import keras
import numpy as np
import pytest
import tensorflow as tf

from vlpk.losses import ContrastiveLoss, positive_targets


def pack(image, text, scale):
    n = image.shape[0]
    return np.concatenate([image, text, np.full((n, 1), scale)], -1).astype("float32")


def reference_clip_loss(image, text, scale):
    """OpenCLIP's ClipLoss, written out in numpy for distinct pairs."""
    logits = scale * image @ text.T

    def ce(z):
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -np.diag(logp).mean()

    return 0.5 * (ce(logits) + ce(logits.T))


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_matches_reference_for_distinct_pairs():
    rng = np.random.default_rng(0)
    image, text = unit(rng.normal(size=(6, 4))), unit(rng.normal(size=(6, 4)))
    loss = ContrastiveLoss()(np.arange(6), pack(image, text, 10.0))
    assert float(loss) == pytest.approx(reference_clip_loss(image, text, 10.0), 1e-5)


def test_aligned_pairs_score_lower_than_shuffled():
    rng = np.random.default_rng(1)
    image = unit(rng.normal(size=(8, 16)))
    aligned = ContrastiveLoss()(np.arange(8), pack(image, image, 20.0))
    shuffled = ContrastiveLoss()(np.arange(8), pack(image, image[::-1], 20.0))
    assert float(aligned) < 0.05 < float(shuffled)


def test_duplicate_ids_are_positives_not_negatives():
    targets = np.asarray(positive_targets(np.array([7, 7, 3]), np.array([7, 7, 3])))
    np.testing.assert_allclose(targets, [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]])
    # With ids [7, 7, 3], rows 0 and 1 share positives: the loss is the
    # soft-target cross-entropy, computed here by hand.
    rng = np.random.default_rng(3)
    image, text = unit(rng.normal(size=(3, 4))), unit(rng.normal(size=(3, 4)))
    logits = 10.0 * image @ text.T
    t = np.array([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]])

    def soft_ce(z, t):
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -(t * logp).sum(1)

    expected = 0.5 * (soft_ce(logits, t) + soft_ce(logits.T, t.T)).mean()
    loss = ContrastiveLoss()(np.array([7, 7, 3]), pack(image, text, 10.0))
    assert float(loss) == pytest.approx(expected, 1e-5)
    distinct = ContrastiveLoss()(np.array([1, 2, 3]), pack(image, text, 10.0))
    assert float(distinct) != pytest.approx(expected, 1e-3)


def test_gradient_reaches_the_scale_and_serializes():
    image = tf.Variable(
        unit(np.random.default_rng(2).normal(size=(4, 3))), dtype="float32"
    )
    with tf.GradientTape() as tape:
        y_pred = tf.concat([image, image[::-1], tf.fill((4, 1), 5.0)], -1)
        loss = ContrastiveLoss()(np.arange(4), y_pred)
    assert np.abs(tape.gradient(loss, image).numpy()).sum() > 0
    config = keras.losses.serialize(ContrastiveLoss(label_smoothing=0.1))
    revived = keras.losses.deserialize(config)
    assert isinstance(revived, ContrastiveLoss) and revived.label_smoothing == 0.1


def test_similarity_targets_follow_keras_io():
    # keras.io's dual encoder: targets = softmax(scale * (image-image +
    # text-text similarity) / 2), by row in both directions here.
    rng = np.random.default_rng(5)
    image, text = unit(rng.normal(size=(4, 8))), unit(rng.normal(size=(4, 8)))
    scale = 5.0
    logits = scale * image @ text.T

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    targets = np.exp(log_softmax(scale * (image @ image.T + text @ text.T) / 2))
    expected = (
        -0.5
        * (
            (targets * log_softmax(logits)).sum(1)
            + (targets * log_softmax(logits.T)).sum(1)
        ).mean()
    )
    loss = ContrastiveLoss(targets="similarity")
    got = float(loss(np.arange(4), pack(image, text, scale)))
    assert got == pytest.approx(expected, rel=1e-5)
    # It differs from the id targets, and survives a config round trip.
    assert got != pytest.approx(
        float(ContrastiveLoss()(np.arange(4), pack(image, text, scale)))
    )
    assert ContrastiveLoss.from_config(loss.get_config()).targets == "similarity"
    with pytest.raises(ValueError, match="targets"):
        ContrastiveLoss(targets="soft")
