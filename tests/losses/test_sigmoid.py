import keras
import numpy as np
import pytest

from tests.models.conftest import tiny_image_encoder, tiny_text_encoder
from vlpk.losses import SigmoidContrastiveLoss
from vlpk.models import DualEncoderBackbone


def pack(image, text, scale, bias):
    n = image.shape[0]
    return np.concatenate(
        [image, text, np.full((n, 1), scale), np.full((n, 1), bias)], -1
    ).astype("float32")


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_matches_big_vision_reference():
    rng = np.random.default_rng(0)
    image, text = unit(rng.normal(size=(5, 4))), unit(rng.normal(size=(5, 4)))
    ids = np.array([0, 1, 1, 2, 3])
    logits = 10.0 * image @ text.T - 10.0
    labels = np.where(ids[:, None] == ids[None, :], 1.0, -1.0)
    expected = np.mean(np.sum(np.log1p(np.exp(-labels * logits)), axis=-1))
    loss = SigmoidContrastiveLoss()(ids, pack(image, text, 10.0, -10.0))
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_needs_a_bias():
    y_pred = np.zeros((2, 9), "float32")  # 2 * 4 + 1: scale, no bias
    with pytest.raises(ValueError, match="initial_bias"):
        SigmoidContrastiveLoss()(np.arange(2), y_pred)


def test_dual_encoder_with_bias_trains_with_sigmoid_loss(batch, tmp_path):
    model = DualEncoderBackbone(
        tiny_image_encoder(),
        tiny_text_encoder(),
        embedding_dim=8,
        initial_temperature=0.1,
        initial_bias=-10.0,
    )
    out = model.predict(batch, verbose=0)
    assert out["contrastive"].shape == (4, 18)
    np.testing.assert_allclose(out["contrastive"][:, -2:], [[10.0, -10.0]] * 4, 1e-5)
    model.compile(
        keras.optimizers.Adam(1e-2), loss={"contrastive": SigmoidContrastiveLoss()}
    )
    history = model.fit(batch, {"contrastive": np.arange(4)}, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "siglip.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        restored.predict(batch, verbose=0)["contrastive"],
        model.predict(batch, verbose=0)["contrastive"],
        atol=1e-5,
    )
    config = keras.losses.serialize(SigmoidContrastiveLoss(global_negatives=False))
    assert keras.losses.deserialize(config).global_negatives is False
