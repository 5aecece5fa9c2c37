import keras
import numpy as np

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    VOCABULARY_SIZE,
    tiny_image_encoder,
    tiny_text_encoder,
)
from tests.test_case import run_model_test
from vlpk.layers import CaptionDecoder, CrossAttentionFusion
from vlpk.layers.caption_decoder import next_token_targets
from vlpk.losses import CaptioningLoss
from vlpk.models.captioner import Captioner
from vlpk.models.image_classifier import ImageClassifier
from vlpk.models.pretrainer import VisionLanguagePretrainer
from vlpk.tasks.retrieval import copy_weights, retrieval_model


def test_image_classifier_on_tokens(batch, tmp_path):
    model = ImageClassifier(tiny_image_encoder("tokens"), num_classes=4)
    run_model_test(
        model,
        {"images": batch["images"]},
        tmp_path,
        expected_output_shape={"predictions": (4, 4)},
        # The head gives logits (activation=None).
        loss={
            "predictions": keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        },
        y={"predictions": np.array([0, 1, 2, 3])},
    )


def test_image_classifier_on_pooled_features(batch, tmp_path):
    model = ImageClassifier(tiny_image_encoder("pooled"), num_classes=3)
    out = model({"images": batch["images"]})
    assert out["predictions"].shape == (4, 3)


def test_captioner(batch, tmp_path):
    decoder = CaptionDecoder(
        vocabulary_size=VOCABULARY_SIZE,
        sequence_length=SEQUENCE_LENGTH,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )
    model = Captioner(tiny_image_encoder("tokens"), decoder)
    run_model_test(
        model,
        batch,
        tmp_path,
        expected_output_shape={"captioning": (4, SEQUENCE_LENGTH, VOCABULARY_SIZE)},
        loss={"captioning": CaptioningLoss()},
        y={"captioning": np.asarray(next_token_targets(batch["token_ids"]))},
    )
    tokens = model.image_tokenizer()(batch["images"])
    assert tokens.shape[0] == 4 and len(tokens.shape) == 3


def test_matching_scorer_agrees_with_matcher(batch):
    # Re-ranking scores pairs from cached features; that must equal scoring
    # the raw (image, text) pairs end to end.
    model = VisionLanguagePretrainer(
        tiny_image_encoder("tokens"),
        tiny_text_encoder(),
        fusion=CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16),
        objectives=("contrastive", "matching"),
        embedding_dim=8,
    )
    direct = np.asarray(model.matcher()(batch))
    image_model, text_model = model.matching_features()
    cached = model.matching_scorer()(
        {
            "image_tokens": np.asarray(image_model(batch["images"])),
            "text_tokens": np.asarray(
                text_model({k: batch[k] for k in ("token_ids", "padding_mask")})
            ),
            "padding_mask": batch["padding_mask"],
        }
    )
    np.testing.assert_allclose(np.asarray(cached), direct, atol=1e-5)
    assert np.ptp(direct) > 0  # distinct pairs score differently


def test_retrieval_model_keeps_pretrained_heads(batch):
    source = VisionLanguagePretrainer(
        tiny_image_encoder("tokens"),
        tiny_text_encoder(),
        fusion=CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16),
        objectives=("contrastive", "matching", "masked_lm"),
        embedding_dim=8,
    )
    rebuilt = retrieval_model(source)
    assert rebuilt.objectives == ("contrastive", "matching")
    text = {k: batch[k] for k in ("token_ids", "padding_mask")}
    np.testing.assert_allclose(
        rebuilt.text_embedder()(text), source.text_embedder()(text), atol=1e-6
    )
    np.testing.assert_allclose(
        rebuilt.matcher()(batch), source.matcher()(batch), atol=1e-5
    )
    copied = set(copy_weights(source, rebuilt))
    assert {"image_projection", "text_projection", "logit_scale"} <= copied
    assert "matching_head" in copied and "image_encoder" not in copied
