"""The benchmarks' FLOP counter and hand-written baseline."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.baseline import clip_loss, handwritten_dual_encoder
from benchmarks.flops import hlo_flops, step_flops
from vlpk.config import ImageConfig, PretrainConfig, TextConfig
from vlpk.jobs.recipes import build_model


def test_matmul_and_convolution_flops_by_hand():
    w = tf.Variable(tf.random.normal([128, 256]))
    k = tf.Variable(tf.random.normal([3, 3, 3, 8]))
    x = tf.random.normal([64, 128])
    images = tf.random.normal([2, 16, 16, 3])

    def loss():
        y = tf.reduce_sum(tf.matmul(x, w))
        return y + tf.reduce_sum(tf.nn.conv2d(images, k, 2, "SAME"))

    flops, ops = step_flops(loss, [w, k])
    matmul = 2 * 64 * 128 * 256  # forward, and again for the kernel gradient
    conv = 2 * 2 * 8 * 8 * 3 * 3 * 3 * 8  # forward; each gradient is as large
    # The unoptimized graph also holds the (unused) input gradient of the
    # convolution: the count is 2 matmuls and 3 convolutions.
    assert ops == {"dot": 2, "convolution": 3}
    assert flops == 2 * matmul + 3 * conv


def test_batched_dot_and_grouped_convolution_lines():
    hlo = "\n".join(
        [
            "%a = f32[4,8,16]{2,1,0} dot(f32[4,8,32]{2,1,0} %x,"
            " f32[4,32,16]{2,1,0} %y), lhs_batch_dims={0},"
            " lhs_contracting_dims={2}, rhs_batch_dims={0},"
            " rhs_contracting_dims={1}",
            "%b = f32[1,4,4,6]{3,2,1,0} convolution(f32[1,4,4,6]{3,2,1,0} %x,"
            " f32[3,3,2,6]{3,2,1,0} %k), window={size=3x3 pad=1_1x1_1},"
            " dim_labels=b01f_01io->b01f, feature_group_count=3",
        ]
    )
    flops, ops = hlo_flops(hlo)
    assert ops == {"dot": 1, "convolution": 1}
    # Kernel [3, 3, 2, 6] in 3 groups: its input depth (2) is already per
    # group, so each output costs 3 * 3 * 2 multiply-adds.
    assert flops == 2 * 4 * 8 * 16 * 32 + 2 * (4 * 4 * 6) * (3 * 3 * 2)


def test_baseline_mirrors_the_vlpk_model_and_trains():
    config = PretrainConfig(
        image=ImageConfig(size=32, widths=(8, 16)),
        text=TextConfig(
            layers=1, hidden_dim=16, intermediate_dim=32, sequence_length=8
        ),
        embedding_dim=8,
    )
    baseline = handwritten_dual_encoder(config, vocabulary_size=50)
    assert baseline.count_params() == build_model(config, 50).count_params()
    rng = np.random.default_rng(0)
    x = {
        "images": rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(1, 50, (4, 8)).astype("int32"),
        "padding_mask": np.ones((4, 8), "int32"),
    }
    y = {"contrastive": np.arange(4)}
    baseline.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [w.numpy().copy() for w in baseline.trainable_weights]
    history = baseline.fit(
        tf.data.Dataset.from_tensors((x, y)).repeat(2), verbose=0, shuffle=False
    )
    assert np.isfinite(history.history["loss"][0])
    unchanged = [
        w.path
        for a, w in zip(before, baseline.trainable_weights)
        if np.allclose(a, w.numpy())
    ]
    # Attention is invariant to the key bias: its gradient is zero.
    assert all(path.endswith("key/bias") for path in unchanged), unchanged
    image = baseline.get_image_embeddings(x["images"])
    np.testing.assert_allclose(np.linalg.norm(image, axis=-1), 1, rtol=1e-5)


def test_inline_clip_loss_equals_vlpk_loss():
    from vlpk.losses import ContrastiveLoss

    rng = np.random.default_rng(1)
    image = tf.math.l2_normalize(rng.normal(size=(5, 4)).astype("float32"), -1)
    text = tf.math.l2_normalize(rng.normal(size=(5, 4)).astype("float32"), -1)
    ids = tf.constant([0, 0, 1, 2, 3])
    packed = tf.concat([image, text, tf.fill([5, 1], 7.0)], -1)
    expected = float(ContrastiveLoss()(ids, packed))
    assert float(clip_loss(image, text, ids, 7.0)) == pytest.approx(expected, 1e-5)
