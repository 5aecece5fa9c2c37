"""`ImageCaptioner`: a caption decoder over a backbone's image tokens."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_vision_language_family import (
    LOGITS,
    SEQUENCE_LENGTH,
    VOCABULARY,
    B,
    parts,
    raw_pairs,
)
from tests.test_case import (
    run_precision_test,
    run_preprocessor_test,
    run_preset_test,
    run_task_test,
)
from vlpk.data import ImagePreprocessor
from vlpk.layers.caption_decoder import CaptionDecoder
from vlpk.models import VisionLanguageBackbone, load_task
from vlpk.models.captioning import ImageCaptioner, ImageCaptionerPreprocessor
from vlpk.text import wordpiece_tokenizer


def tiny_preprocessor():
    return ImageCaptionerPreprocessor(
        wordpiece_tokenizer(VOCABULARY), ImagePreprocessor(32), SEQUENCE_LENGTH
    )


def new_decoder():
    size = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)
    return CaptionDecoder(len(VOCABULARY), SEQUENCE_LENGTH, dropout=0.0, **size)


@pytest.fixture(scope="module")
def backbones():
    keras.utils.set_random_seed(0)
    return {
        "coca": VisionLanguageBackbone(**parts(decoder="decoder")),
        "albef": VisionLanguageBackbone(**parts("cross_attention")),
    }


def test_preprocessor_makes_next_token_targets():
    x, _ = raw_pairs()
    inputs, targets = run_preprocessor_test(
        tiny_preprocessor(), None, {"images": x["images"], "text": x["text"]}
    )
    ids = np.asarray(inputs["token_ids"])
    np.testing.assert_array_equal(targets["captioning"][:, :-1], ids[:, 1:])
    np.testing.assert_array_equal(targets["captioning"][:, -1], 0)


def test_task_contract_on_the_backbones_decoder(backbones):
    x, pixels = raw_pairs()
    run_task_test(
        ImageCaptioner,
        {"backbone": backbones["coca"], "preprocessor": tiny_preprocessor()},
        {"images": pixels, "text": x["text"]},
        expected_output_shape={"captioning": (B, SEQUENCE_LENGTH, len(VOCABULARY))},
        batch_size=B,
        compile_kwargs={"run_eagerly": True},
    )


def test_task_decoder_on_a_backbone_without_one(backbones, tmp_path):
    # An ALBEF backbone gets a new decoder as the task's head; the preset
    # keeps it (in the task's weights) and shares nothing by name.
    decoder = new_decoder()
    task = ImageCaptioner(backbones["albef"], tiny_preprocessor(), decoder)
    assert task.caption_decoder is decoder and task.backbone is backbones["albef"]
    x, _ = raw_pairs()
    x = {"images": x["images"], "text": x["text"]}
    preset = str(tmp_path / "captioner")
    task.save_to_preset(preset)
    predictions = run_preset_test(ImageCaptioner, preset, x, tmp_path=tmp_path)
    model_x, _ = task.preprocessor(x)
    np.testing.assert_allclose(
        predictions["captioning"], task(model_x)["captioning"], atol=1e-5
    )
    revived = load_task(preset)
    assert isinstance(revived, ImageCaptioner) and revived.owns_decoder
    assert revived.generate(x["images"]) == task.generate(x["images"])


def test_generate_and_the_caption_signature(backbones, tmp_path):
    task = ImageCaptioner(backbones["coca"], tiny_preprocessor(), compile=False)
    x, pixels = raw_pairs(2)
    captions = task.generate(x["images"])
    assert len(captions) == 2 and set(" ".join(captions).split()) <= set(VOCABULARY)
    assert task.generate(pixels[0]) == captions[0]
    path = str(tmp_path / "saved")
    task.serving_archive().write_out(path, verbose=False)
    served = tf.saved_model.load(path)
    out = served.caption(tf.constant(list(x["images"])))["caption"].numpy()
    assert [c.decode() for c in out] == captions
    assert set(served.signatures) == {"caption", "serving_default"}


def test_mixed_precision():
    run_precision_test(
        ImageCaptioner,
        {"backbone": VisionLanguageBackbone(**parts(decoder="decoder"))},
        {
            "images": np.zeros((B, 32, 32, 3), "float32"),
            "token_ids": np.ones((B, SEQUENCE_LENGTH), "int32"),
            "padding_mask": np.ones((B, SEQUENCE_LENGTH), "int32"),
        },
        float32_names=LOGITS + ("captioning",),
    )


def test_clear_errors(backbones):
    with pytest.raises(ValueError, match="no caption decoder"):
        ImageCaptioner(backbones["albef"])
    pooled = VisionLanguageBackbone(**parts(decoder="decoder"))
    pooled.image_encoder.output_mode = "pooled"  # as a dual encoder's
    with pytest.raises(ValueError, match="pooled"):
        ImageCaptioner(pooled)
