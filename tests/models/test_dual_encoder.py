import numpy as np
import pytest

from tests.models.conftest import tiny_image_encoder, tiny_text_encoder
from tests.test_case import run_model_test
from vlpk.losses import ContrastiveLoss
from vlpk.models import DualEncoderBackbone


@pytest.mark.parametrize("hidden", [None, 16])
def test_dual_encoder(batch, tmp_path, hidden):
    model = DualEncoderBackbone(
        tiny_image_encoder(),
        tiny_text_encoder(),
        embedding_dim=8,
        projection_hidden_dim=hidden,
    )
    outputs = run_model_test(
        model,
        batch,
        tmp_path,
        expected_output_shape={
            "image_embedding": (4, 8),
            "text_embedding": (4, 8),
            "contrastive": (4, 17),
        },
        loss={"contrastive": ContrastiveLoss()},
        y={"contrastive": np.arange(4)},
    )
    norms = np.linalg.norm(np.asarray(outputs["image_embedding"]), axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    # The embedding methods share weights with the dual encoder (trained by now).
    outputs = model(batch, training=False)
    np.testing.assert_allclose(
        model.get_image_embeddings(batch["images"]),
        outputs["image_embedding"],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        model.get_text_embeddings(batch["token_ids"], batch["padding_mask"]),
        outputs["text_embedding"],
        atol=1e-5,
    )
    # The temperature started at 0.07 and is learned.
    assert model.temperature != pytest.approx(0.07, abs=1e-6)
    assert 0.01 < model.temperature < 1.0


def test_dual_encoder_rejects_token_image_encoder():
    with pytest.raises(ValueError, match="pooled"):
        DualEncoderBackbone(
            tiny_image_encoder("tokens"), tiny_text_encoder(), embedding_dim=8
        )


def test_contrastive_training_aligns_pairs(batch):
    """A few steps on one batch must raise the matched pairs' similarity."""
    import keras

    keras.utils.set_random_seed(0)
    model = DualEncoderBackbone(
        tiny_image_encoder(), tiny_text_encoder(), embedding_dim=8
    )
    model.compile(keras.optimizers.Adam(1e-2), loss={"contrastive": ContrastiveLoss()})
    y = {"contrastive": np.arange(4)}
    before = model.evaluate(batch, y, verbose=0, return_dict=True)["loss"]
    model.fit(batch, y, epochs=40, batch_size=4, verbose=0)
    after = model.evaluate(batch, y, verbose=0, return_dict=True)["loss"]
    assert after < 0.5 * before
    out = model.predict(batch, verbose=0)
    similarity = out["image_embedding"] @ out["text_embedding"].T
    diagonal = np.diag(similarity).mean()
    off_diagonal = similarity[~np.eye(4, dtype=bool)].mean()
    assert diagonal > off_diagonal + 0.1
