import numpy as np
import pytest

from tests.test_case import run_layer_test
from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.cross_attention_fusion import CrossAttentionFusion
from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.projection_head import ProjectionHead

rng = np.random.default_rng(0)


def test_concat_fusion(tmp_path):
    data = {
        "image": rng.normal(size=(3, 8)).astype("float32"),
        "text": rng.normal(size=(3, 5)).astype("float32"),
    }
    run_layer_test(
        ConcatFusion,
        {"hidden_dims": (16, 4), "dropout": 0.1},
        data,
        tmp_path,
        expected_output_shape=(3, 4),
    )


def test_concat_fusion_rejects_feature_maps():
    # The seed design's bug: a 4-D VGG16 map next to a 2-D text vector.
    with pytest.raises(ValueError, match="pooled 2-D `image`"):
        ConcatFusion()({"image": np.ones((2, 2, 2, 512)), "text": np.ones((2, 8))})


def test_cross_attention_fusion(tmp_path):
    data = {
        "text": rng.normal(size=(2, 5, 16)).astype("float32"),
        "image": rng.normal(size=(2, 9, 8)).astype("float32"),
        "padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32"),
    }
    out = run_layer_test(
        CrossAttentionFusion,
        {"num_layers": 2, "num_heads": 2, "intermediate_dim": 32, "dropout": 0.0},
        data,
        tmp_path,
        expected_output_shape=(2, 5, 16),
    )
    # The text really attends to the image: other image tokens, other output.
    layer = CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=32)
    a = np.asarray(layer(data))
    b = np.asarray(layer({**data, "image": data["image"] + 1.0}))
    assert not np.allclose(a, b)
    assert np.isfinite(np.asarray(out)).all()


def test_cross_attention_rejects_pooled_image():
    with pytest.raises(ValueError, match="tokens"):
        CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=8)(
            {"text": np.ones((2, 3, 8)), "image": np.ones((2, 8))}
        )


@pytest.mark.parametrize("hidden_dim", [None, 12])
def test_projection_head(tmp_path, hidden_dim):
    x = rng.normal(size=(4, 6)).astype("float32")
    out = run_layer_test(
        ProjectionHead,
        {"embedding_dim": 12, "hidden_dim": hidden_dim, "dropout": 0.1},
        x,
        tmp_path,
        expected_output_shape=(4, 12),
    )
    np.testing.assert_allclose(np.linalg.norm(np.asarray(out), axis=-1), 1.0, atol=1e-5)


def test_logit_scale(tmp_path):
    data = {
        "image": rng.normal(size=(3, 4)).astype("float32"),
        "text": rng.normal(size=(3, 4)).astype("float32"),
    }
    out = np.asarray(
        run_layer_test(
            LogitScale,
            {"initial_temperature": 0.07},
            data,
            tmp_path,
            expected_output_shape=(3, 9),
        )
    )
    np.testing.assert_allclose(out[:, :4], data["image"])
    np.testing.assert_allclose(out[:, 4:8], data["text"])
    np.testing.assert_allclose(out[:, 8], 1 / 0.07, rtol=1e-5)
    # The scale is clipped at max_logit_scale, as in CLIP.
    clipped = LogitScale(initial_temperature=0.001, max_logit_scale=100.0)
    assert float(clipped.logit_scale() if clipped.built else 0) == 0
    np.testing.assert_allclose(np.asarray(clipped(data))[:, 8], 100.0)
