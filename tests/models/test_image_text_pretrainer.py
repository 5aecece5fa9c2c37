"""ImageTextPretrainer: ALBEF-style and CoCa-style heads on tiny towers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    VOCABULARY_SIZE,
    tiny_image_encoder,
    tiny_text_encoder,
)
from tests.test_case import run_model_test
from vlpk.layers import ConcatFusion, CrossAttentionFusion
from vlpk.layers.caption_decoder import CaptionDecoder
from vlpk.losses import ContrastiveLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models import ImageTextPretrainer, VisionLanguageBackbone

B, P = 4, 2


@pytest.fixture(autouse=True)
def seeded():
    # Training tests below assert on learned behaviour: fix the initial
    # weights so the outcome does not depend on the tests that ran before.
    keras.utils.set_random_seed(0)


def pretrainer(objectives, image_output="tokens", **parts):
    backbone = VisionLanguageBackbone(
        tiny_image_encoder(image_output), tiny_text_encoder(), embedding_dim=16, **parts
    )
    return ImageTextPretrainer(backbone, objectives=objectives, seed=0, compile=False)


def albef(fusion=None, objectives=("contrastive", "matching", "masked_lm")):
    fusion = fusion or CrossAttentionFusion(1, 2, 32, dropout=0.0)
    return pretrainer(objectives, fusion=fusion)


def matcher(model, pairs):
    """Matching logits of each (image, text) pair, from the backbone's methods."""
    backbone, mask = model.backbone, pairs["padding_mask"]
    image = backbone.get_image_tokens(pairs["images"])
    text = backbone.get_text_tokens(pairs["token_ids"], mask)
    return np.asarray(backbone.match(image, text, mask))


def coca():
    return pretrainer(
        ("contrastive", "captioning"),
        caption_decoder=CaptionDecoder(
            VOCABULARY_SIZE,
            SEQUENCE_LENGTH,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            dropout=0.0,
        ),
    )


def with_heads(batch):
    masked = batch["token_ids"].copy()
    masked[:, 1:3] = 4  # [MASK]
    return (
        {
            **batch,
            "image_id": np.array([0, 1, 2, 0], "int32"),  # rows 0 and 3: one image
            "masked_token_ids": masked,
            "mask_positions": np.tile(np.array([[1, 2]], "int32"), (B, 1)),
        },
        {
            "contrastive": np.array([0, 1, 2, 0], "int32"),
            "matching": np.tile(np.array([[1.0, 0.0, 0.0]], "float32"), (B, 1)),
            "masked_lm": batch["token_ids"][:, 1:3].astype("int32"),
            "captioning": np.concatenate(
                [batch["token_ids"][:, 1:], np.zeros((B, 1), "int32")], axis=1
            ),
        },
    )


def albef_losses():
    return {
        "contrastive": ContrastiveLoss(),
        "matching": keras.losses.BinaryCrossentropy(from_logits=True),
        "masked_lm": keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        ),
    }


def test_albef_model_contract(batch, tmp_path):
    x, y = with_heads(batch)
    y = {k: y[k] for k in ("contrastive", "matching", "masked_lm")}
    run_model_test(
        albef(),
        x,
        tmp_path,
        expected_output_shape={
            "contrastive": (B, 2 * 16 + 1),
            "matching": (B, 3),
            "masked_lm": (B, P, VOCABULARY_SIZE),
        },
        loss=albef_losses(),
        y=y,
    )


def test_coca_model_contract(batch, tmp_path):
    x, y = with_heads(batch)
    x = {k: x[k] for k in ("images", "token_ids", "padding_mask")}
    y = {k: y[k] for k in ("contrastive", "captioning")}
    run_model_test(
        coca(),
        x,
        tmp_path,
        expected_output_shape={
            "contrastive": (B, 2 * 16 + 1),
            "captioning": (B, SEQUENCE_LENGTH, VOCABULARY_SIZE),
        },
        loss={
            "contrastive": ContrastiveLoss(),
            "captioning": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=0
            ),
        },
        y=y,
    )


def test_concat_fusion_trains_matching_only(batch, tmp_path):
    x, y = with_heads(batch)
    x = {k: x[k] for k in ("images", "token_ids", "padding_mask", "image_id")}
    y = {k: y[k] for k in ("contrastive", "matching")}
    model = albef(ConcatFusion((16,)), objectives=("contrastive", "matching"))
    run_model_test(
        model,
        x,
        tmp_path,
        expected_output_shape={"contrastive": (B, 33), "matching": (B, 3)},
        loss={k: albef_losses()[k] for k in y},
        y=y,
    )
    scores = model.backbone.match(
        model.backbone.get_image_features(x["images"]),
        model.backbone.get_text_features(x["token_ids"], x["padding_mask"]),
    )
    assert scores.shape == (B,)


def test_heads_learn_with_weighted_losses_and_matching_follows(batch):
    # A few steps on one batch: each head's loss falls, the weights reach the
    # total (contrastive + 2 * matching + 0.5 * masked_lm), and the matcher
    # then scores each image's own caption above another image's. (One model
    # trained once for both checks: training is most of the time here.)
    x, y = with_heads(batch)
    y = {k: y[k] for k in ("contrastive", "matching", "masked_lm")}
    model = albef()
    weights = {"contrastive": 1.0, "matching": 2.0, "masked_lm": 0.5}
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=albef_losses(),
        loss_weights=weights,
        metrics={"masked_lm": [MaskedTokenAccuracy()]},
    )
    first = model.evaluate(x, y, verbose=0, return_dict=True)
    total = sum(weights[k] * first[f"{k}_loss"] for k in weights)
    assert first["loss"] == pytest.approx(total, rel=1e-4)
    # 60 steps in one epoch: the same updates as 60 one-step epochs, without
    # the per-epoch overhead.
    steps = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(steps, epochs=1, steps_per_epoch=60, verbose=0)
    last = model.evaluate(x, y, verbose=0, return_dict=True)
    for key in ("contrastive_loss", "matching_loss", "masked_lm_loss"):
        assert last[key] < 0.7 * first[key], (key, first[key], last[key])
    assert last["masked_lm_accuracy"] >= 0.75  # chance: 1 in 30

    pairs = {k: x[k] for k in ("images", "token_ids", "padding_mask")}
    positive = matcher(model, pairs)
    shuffled = dict(pairs, images=x["images"][[1, 2, 3, 0]])
    negative = matcher(model, shuffled)
    # Row 3's shuffled image is image 0: the same image id, so skip it.
    assert np.all(positive[:3] > negative[:3]), (positive, negative)


def test_bad_parts_give_clear_errors():
    with pytest.raises(ValueError, match="fusion"):
        pretrainer(("contrastive", "matching"))
    with pytest.raises(ValueError, match="CrossAttentionFusion"):
        albef(ConcatFusion((16,)))
    with pytest.raises(ValueError, match="output='tokens'"):
        pretrainer(("contrastive",), image_output="pooled")
    with pytest.raises(ValueError, match="caption_decoder"):
        pretrainer(("contrastive", "captioning"))
    with pytest.raises(ValueError, match="objectives"):
        albef(objectives=("matching",))


def test_embedding_methods_share_the_trained_weights(batch):
    model = albef()
    x, _ = with_heads(batch)
    packed = np.asarray(model(x, training=False)["contrastive"])
    image = np.asarray(model.backbone.get_image_embeddings(x["images"]))
    text = np.asarray(
        model.backbone.get_text_embeddings(x["token_ids"], x["padding_mask"])
    )
    np.testing.assert_allclose(packed[:, :16], image, atol=1e-5)
    np.testing.assert_allclose(packed[:, 16:32], text, atol=1e-5)
