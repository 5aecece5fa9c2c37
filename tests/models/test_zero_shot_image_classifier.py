"""`ZeroShotImageClassifier`: class-name prompts as a head, zero-shot then fit."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_contrastive_family import (
    raw_pairs,
    tiny_backbone,
    tiny_preprocessor,
)
from tests.test_case import run_precision_test, run_preset_test, run_task_test
from vlpk.models import ZeroShotImageClassifier, load_task
from vlpk.tasks.zero_shot import class_embeddings

CLASSES = ["circle", "square", "small"]


def tiny_classifier(**kwargs):
    classifier = ZeroShotImageClassifier(
        tiny_backbone(), CLASSES, tiny_preprocessor(), **kwargs
    )
    classifier.embed_class_names()
    return classifier


def test_zero_shot_logits_are_scaled_cosines_to_the_class_prompts():
    classifier = tiny_classifier(templates=("a {}", "{} a"))
    x, _ = raw_pairs(4)
    logits = classifier.predict(x["images"], verbose=0)
    backbone, preprocessor = classifier.backbone, classifier.preprocessor
    images = backbone.get_image_embeddings(preprocessor.preprocess_images(x["images"]))
    classes = class_embeddings(
        backbone, CLASSES, preprocessor.preprocess_text, ("a {}", "{} a")
    )
    expected = np.asarray(images) @ classes.T / backbone.temperature
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    # Raw pixels give the logits of their PNG bytes.
    _, pixels = raw_pairs(4)
    np.testing.assert_allclose(
        classifier.predict(pixels, verbose=0), logits, rtol=1e-5, atol=1e-5
    )


def test_task_contract_with_and_without_preprocessor():
    x, _ = raw_pairs(4)
    labels = np.array([0, 1, 2, 0])
    backbone = tiny_backbone()
    run_task_test(
        ZeroShotImageClassifier,
        {
            "backbone": backbone,
            "class_names": CLASSES,
            "preprocessor": tiny_preprocessor(),
            "logit_scale": 10.0,
        },
        (x["images"], labels),
        expected_output_shape=(4, 3),
        compile_kwargs={"run_eagerly": True},
    )


def test_preset_round_trip_and_load_task(tmp_path):
    classifier = tiny_classifier()
    folder = str(tmp_path / "classifier")
    classifier.save_to_preset(folder)
    x, _ = raw_pairs(4)
    run_preset_test(
        ZeroShotImageClassifier,
        folder,
        x["images"],
        expected_output_shape=(4, 3),
        expected_output=classifier.predict(x["images"], verbose=0),
        tmp_path=tmp_path,
    )
    revived = load_task(folder)
    assert isinstance(revived, ZeroShotImageClassifier)
    assert revived.class_names == CLASSES


def test_serving_signature_classifies_image_bytes(tmp_path):
    classifier = tiny_classifier()
    x, _ = raw_pairs(4)
    path = str(tmp_path / "saved")
    classifier.serving_archive().write_out(path, verbose=False)
    served = tf.saved_model.load(path).signatures["classify"]
    result = served(image_bytes=tf.constant(list(x["images"])))
    logits = classifier.predict(x["images"], verbose=0)
    np.testing.assert_allclose(
        result["probabilities"], tf.nn.softmax(logits), rtol=1e-5, atol=1e-6
    )
    ids = np.argmax(logits, axis=-1)
    np.testing.assert_array_equal(result["class_id"], ids)
    assert [n.decode() for n in result["class_name"].numpy()] == [
        CLASSES[i] for i in ids
    ]


def test_precision_keeps_the_class_logits_float32(batch):
    run_precision_test(
        ZeroShotImageClassifier,
        {"backbone": tiny_backbone(), "class_names": CLASSES, "logit_scale": 10.0},
        {"images": batch["images"]},
        float32_names=("class_head", "output"),
    )


def test_bad_arguments_say_what_to_fix():
    with pytest.raises(ValueError, match="one class name"):
        ZeroShotImageClassifier(tiny_backbone(), [])
    with pytest.raises(ValueError, match="exactly one"):
        ZeroShotImageClassifier(tiny_backbone(), CLASSES, templates=("a photo",))
    with pytest.raises(ValueError, match="preprocessor"):
        ZeroShotImageClassifier(tiny_backbone(), CLASSES).embed_class_names()
