"""`ImageClassifier`: a backbone's image tower, pooled, with a linear head."""

import keras
import numpy as np
import pytest

from tests.models.test_contrastive_family import (
    raw_pairs,
    tiny_backbone,
    tiny_preprocessor,
)
from tests.models.test_vision_language_family import parts
from tests.test_case import run_precision_test, run_preset_test, run_task_test
from vlpk.models import ImageClassifier, VisionLanguageBackbone, load_task
from vlpk.tasks.classify import image_classifier

CLASSES = ["circle", "square", "triangle"]


def test_task_contract_with_and_without_preprocessor():
    x, _ = raw_pairs(4)
    run_task_test(
        ImageClassifier,
        {
            "backbone": tiny_backbone(),
            "num_classes": 3,
            "preprocessor": tiny_preprocessor(),
            "class_names": CLASSES,
        },
        ({"images": x["images"]}, np.array([0, 1, 2, 0])),
        expected_output_shape={"predictions": (4, 3)},
        compile_kwargs={"run_eagerly": True},
    )


def test_preset_round_trip_keeps_the_head_and_the_class_names(tmp_path):
    keras.utils.set_random_seed(0)
    classifier = ImageClassifier(
        tiny_backbone(), 3, tiny_preprocessor(), class_names=CLASSES
    )
    folder = str(tmp_path / "classifier")
    classifier.save_to_preset(folder)
    revived = load_task(folder)
    assert isinstance(revived, ImageClassifier)
    assert revived.class_names == CLASSES and revived.num_classes == 3
    images = {"images": raw_pairs(4)[0]["images"]}
    expected = classifier.predict(images, verbose=0)
    run_preset_test(ImageClassifier, folder, images, expected_output=expected)


def test_token_features_are_mean_pooled():
    # A `VisionLanguageBackbone`'s image tower gives tokens: the head sees
    # their mean, before any contrastive projection (CLIP's linear probe).
    backbone = VisionLanguageBackbone(**parts())
    classifier = ImageClassifier(backbone, 3, compile=False)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    tokens = np.asarray(backbone.image_encoder(images))
    assert tokens.ndim == 3
    kernel, bias = classifier.head.get_weights()
    expected = tokens.mean(axis=1) @ kernel + bias
    got = classifier({"images": images})["predictions"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_linear_probe_freezes_the_encoder_and_shares_the_backbone():
    backbone = tiny_backbone()
    before = [w.numpy().copy() for w in backbone.image_encoder.weights]
    probe = image_classifier(backbone, CLASSES, linear_probe=True)
    assert probe.backbone is backbone
    assert not backbone.image_encoder.trainable
    trainable = {id(w) for w in probe.trainable_weights}
    assert not trainable & {id(w) for w in backbone.image_encoder.weights}
    assert {id(w) for w in probe.head.weights} <= trainable
    probe.compile(optimizer="sgd", run_eagerly=True)
    x, pixels = raw_pairs(4)
    probe.fit({"images": pixels.astype("float32")}, np.arange(4) % 3, verbose=0)
    for old, new in zip(before, backbone.image_encoder.weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_precision_keeps_the_logits_float32(batch):
    run_precision_test(
        ImageClassifier,
        {"backbone": tiny_backbone(), "num_classes": 3},
        {"images": batch["images"]},
        float32_names=("head", "predictions"),
    )


def test_bad_class_names_say_what_to_fix():
    with pytest.raises(ValueError, match="2 class_names for num_classes=3"):
        ImageClassifier(tiny_backbone(), 3, class_names=CLASSES[:2])
