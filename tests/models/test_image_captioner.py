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
from vlpk.losses import CaptioningLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
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


def model_inputs():
    """What the preprocessor makes, without paying for it: pixels and ids."""
    rng = np.random.default_rng(0)
    mask = np.arange(SEQUENCE_LENGTH) < rng.integers(2, SEQUENCE_LENGTH, (B, 1))
    return {
        "images": rng.uniform(0, 1, (B, 32, 32, 3)).astype("float32"),
        "token_ids": np.where(mask, rng.integers(5, len(VOCABULARY), mask.shape), 0),
        "padding_mask": mask.astype("int32"),
    }


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


@pytest.mark.parametrize("kind", ["coca", "albef"])
def test_logits_equal_the_old_captioners(backbones, kind):
    # Compares with the removed `vlpk.models.Captioner(image_encoder,
    # caption_decoder)`: its whole graph was the line below. Drop this test
    # with the last trace of that class.
    backbone = backbones[kind]
    decoder = backbone.caption_decoder or new_decoder()
    task = ImageCaptioner(backbone, caption_decoder=decoder, compile=False)
    x = model_inputs()
    old = decoder(
        {
            "token_ids": x["token_ids"],
            "padding_mask": x["padding_mask"],
            "image_tokens": backbone.image_encoder(x["images"]),
        }
    )
    np.testing.assert_allclose(task(x)["captioning"], old, rtol=0, atol=1e-6)


def test_compile_defaults_and_config(backbones):
    task = ImageCaptioner(backbones["coca"])
    assert isinstance(task.optimizer, keras.optimizers.AdamW)
    assert np.isclose(float(task.optimizer.learning_rate), 1e-4)
    assert np.isclose(task.optimizer.weight_decay, 0.01)
    assert isinstance(task.loss["captioning"], CaptioningLoss)
    metrics = task.get_compile_config()["metrics"]["captioning"]
    assert [m["class_name"] for m in metrics] == [MaskedTokenAccuracy.__name__]
    # The backbone's decoder travels with the backbone, even when passed in;
    # only a decoder of the task's own goes into the task's config.
    assert task.get_config()["caption_decoder"] is None
    same = ImageCaptioner(backbones["coca"], caption_decoder=task.caption_decoder)
    assert not same.owns_decoder and same.get_config()["caption_decoder"] is None
    own = ImageCaptioner(backbones["coca"], caption_decoder=new_decoder())
    assert own.get_config()["caption_decoder"]["class_name"] == "CaptionDecoder"


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
    # On a decoder of the task's own: the archive must track it through the
    # task, not the backbone. Untrained, a decoder barely looks at the image
    # and gives every image one caption, so that swapped or
    # dropped images would pass unseen: seed it, and weigh the image more.
    keras.utils.set_random_seed(1)
    decoder = new_decoder()
    task = ImageCaptioner(backbones["albef"], tiny_preprocessor(), decoder)
    decoder.image_projection.kernel.assign(10 * decoder.image_projection.kernel)
    x, pixels = raw_pairs(2)
    captions = task.generate(x["images"])
    assert all(isinstance(c, str) for c in captions)
    assert len(set(captions)) == 2, f"the test needs distinct captions: {captions}"
    assert set(" ".join(captions).split()) <= set(VOCABULARY)
    assert task.generate(pixels[0]) == captions[0]
    path = str(tmp_path / "saved")
    task.serving_archive().write_out(path, verbose=False)
    served = tf.saved_model.load(path)
    out = served.caption(tf.constant(list(x["images"])))["caption"].numpy()
    assert [c.decode() for c in out] == captions
    assert set(served.signatures) == {"caption", "serving_default"}
    default = served.signatures["serving_default"]
    out = default(image_bytes=tf.constant(list(x["images"])))["caption"].numpy()
    assert [c.decode() for c in out] == captions


@pytest.mark.parametrize("global_policy", [False, True])
def test_mixed_precision(global_policy):
    # Both ways in: `dtype=` on the task, and the global policy (the user
    # path), under which an output layer without its own dtype would compute
    # in bfloat16; the loss must get float32 logits either way.
    run_precision_test(
        ImageCaptioner,
        {"backbone": VisionLanguageBackbone(**parts(decoder="decoder"))},
        model_inputs(),
        global_policy=global_policy,
        float32_names=LOGITS + ("captioning",),
    )


def test_clear_errors(backbones, monkeypatch):
    with pytest.raises(ValueError, match="no caption decoder"):
        ImageCaptioner(backbones["albef"])
    with pytest.raises(ValueError, match="preprocessor=None"):
        ImageCaptioner(backbones["coca"], compile=False).generate(raw_pairs(1)[1])
    # As a dual encoder's: the backbone checks this too, so change it after.
    encoder = backbones["coca"].image_encoder
    monkeypatch.setattr(encoder, "output_mode", "pooled")
    with pytest.raises(ValueError, match="pooled"):
        ImageCaptioner(backbones["coca"], caption_decoder=new_decoder())
