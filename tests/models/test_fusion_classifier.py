import numpy as np
import pytest

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    VOCABULARY_SIZE,
    tiny_image_encoder,
    tiny_text_encoder,
)
from tests.test_case import run_model_test
from vlpk.layers import ConcatFusion, CrossAttentionFusion
from vlpk.models import FusionClassifier, vgg16_concat_classifier


def test_concat_fusion_classifier(batch, tmp_path):
    model = FusionClassifier(
        tiny_image_encoder("pooled"),
        tiny_text_encoder(),
        ConcatFusion(hidden_dims=(16,)),
        num_classes=5,
    )
    out = run_model_test(
        model,
        batch,
        tmp_path,
        expected_output_shape={"predictions": (4, 5)},
        loss={"predictions": "sparse_categorical_crossentropy"},
        y={"predictions": np.array([0, 1, 2, 3])},
    )
    np.testing.assert_allclose(np.asarray(out["predictions"]).sum(-1), 1.0, atol=1e-5)


def test_cross_attention_fusion_classifier(batch, tmp_path):
    model = FusionClassifier(
        tiny_image_encoder("tokens"),
        tiny_text_encoder(),
        CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16),
        num_classes=3,
        activation=None,
    )
    run_model_test(
        model,
        batch,
        tmp_path,
        expected_output_shape={"predictions": (4, 3)},
    )


def test_concat_with_token_encoder_fails_clearly():
    with pytest.raises(ValueError, match="ImageEncoder\\(output='pooled'\\)"):
        FusionClassifier(
            tiny_image_encoder("tokens"),
            tiny_text_encoder(),
            ConcatFusion(),
            num_classes=2,
        )


def test_vgg16_concat_classifier(tmp_path):
    rng = np.random.default_rng(0)
    batch = {
        "images": rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(5, VOCABULARY_SIZE, (2, SEQUENCE_LENGTH)).astype(
            "int32"
        ),
        "padding_mask": np.ones((2, SEQUENCE_LENGTH), "int32"),
    }
    model = vgg16_concat_classifier(
        num_classes=4,
        vocabulary_size=VOCABULARY_SIZE,
        image_size=32,
        sequence_length=SEQUENCE_LENGTH,
        text_hidden_dim=16,
        fusion_dims=(8,),
    )
    # The image branch is the real VGG16 (14.7M parameters without its top).
    assert model.image_encoder.count_params() == 14_714_688
    run_model_test(
        model,
        batch,
        tmp_path,
        expected_output_shape={"predictions": (2, 4)},
        loss={"predictions": "sparse_categorical_crossentropy"},
        y={"predictions": np.array([0, 3])},
    )
