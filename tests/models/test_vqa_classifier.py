"""`VQAClassifier`: a backbone's fusion of image and question, one logit per
answer."""

import keras
import numpy as np
import pytest

from tests.models.conftest import SEQUENCE_LENGTH, tiny_image_encoder
from tests.models.test_contrastive_family import tiny_backbone
from tests.models.test_vision_language_family import (
    LOGITS,
    VOCABULARY,
    B,
    parts,
    raw_pairs,
)
from tests.models.test_vision_language_family import (
    tiny_preprocessor as tiny_pretraining_preprocessor,
)
from tests.test_case import (
    run_precision_test,
    run_preprocessor_test,
    run_preset_test,
    run_task_test,
)
from vlpk.data import ImagePreprocessor
from vlpk.layers import ConcatFusion, CrossAttentionFusion
from vlpk.models import (
    ContrastivePreprocessor,
    ImageClassifier,
    ImageTextPretrainer,
    VisionLanguageBackbone,
    VQAClassifier,
    VQAClassifierPreprocessor,
    load_task,
)
from vlpk.text import wordpiece_tokenizer

ANSWERS = ["red", "blue", "yes", "no", "2"]


def tiny_preprocessor():
    return VQAClassifierPreprocessor(
        wordpiece_tokenizer(VOCABULARY), ImagePreprocessor(32), SEQUENCE_LENGTH
    )


def soft_scores(count=B):
    scores = np.zeros((count, len(ANSWERS)), "float32")
    scores[np.arange(count), np.arange(count) % len(ANSWERS)] = 1.0
    scores[0, 1] = 0.3  # annotators disagreed
    return scores


@pytest.fixture(scope="module")
def albef():
    keras.utils.set_random_seed(0)
    return VisionLanguageBackbone(**parts("cross_attention"))


def questions(count=B):
    x, _ = raw_pairs(count)
    return {"images": x["images"], "text": x["text"]}


def test_preprocessor_passes_the_soft_scores_through():
    scores = soft_scores()
    inputs, targets = run_preprocessor_test(
        tiny_preprocessor(), None, (questions(), scores)
    )
    np.testing.assert_array_equal(targets["predictions"], scores)
    assert sorted(inputs) == ["images", "padding_mask", "token_ids"]
    with pytest.raises(ValueError, match="`images`.*`text`"):
        tiny_preprocessor()({"images": questions()["images"]})


def test_task_contract_on_the_backbones_fusion(albef):
    run_task_test(
        VQAClassifier,
        {"backbone": albef, "answers": ANSWERS, "preprocessor": tiny_preprocessor()},
        (questions(), soft_scores()),
        expected_output_shape={"predictions": (B, len(ANSWERS))},
        batch_size=B,
        compile_kwargs={"run_eagerly": True},
    )


def test_cross_attention_logits_classify_the_fused_cls_token(albef):
    # The graph, spelled out: the question's tokens attend to the image
    # tokens in the backbone's own (pretrained) fusion layer; the fused
    # [CLS] token goes through the head.
    vqa = VQAClassifier(albef, ANSWERS, tiny_preprocessor(), compile=False)
    assert vqa.fusion is albef.fusion
    x = vqa.preprocessor(questions())
    fused = albef.fusion(
        {
            "text": albef.text_encoder(
                {"token_ids": x["token_ids"], "padding_mask": x["padding_mask"]}
            )["sequence_output"],
            "image": albef.image_encoder(x["images"]),
            "padding_mask": x["padding_mask"],
        }
    )
    kernel, bias = vqa.head.get_weights()
    expected = np.asarray(fused)[:, 0] @ kernel + bias
    np.testing.assert_allclose(vqa(x)["predictions"], expected, atol=1e-5)


def test_preset_round_trip_with_a_fusion_of_its_own(tmp_path):
    # A dual encoder has no fusion layer: the task makes a `ConcatFusion`,
    # which its config and weights keep.
    keras.utils.set_random_seed(0)
    vqa = VQAClassifier(tiny_backbone(), ANSWERS, tiny_preprocessor())
    assert isinstance(vqa.fusion, ConcatFusion)
    assert vqa.get_config()["fusion"]["class_name"] == "ConcatFusion"
    folder = str(tmp_path / "vqa")
    vqa.save_to_preset(folder)
    run_preset_test(
        VQAClassifier,
        folder,
        questions(),
        expected_output_shape={"predictions": (B, len(ANSWERS))},
        expected_output=vqa.predict(questions(), verbose=0),
        tmp_path=tmp_path,
    )
    revived = load_task(folder)
    assert isinstance(revived, VQAClassifier) and revived.answers == ANSWERS


def test_downstream_tasks_from_a_pretraining_preset(albef, tmp_path):
    # KerasHub's `ImageClassifier.from_preset("resnet_50", num_classes=4)`,
    # on a vlpk pretraining preset: the task is new, the backbone's weights
    # and the tokenizer are the preset's.
    folder = str(tmp_path / "albef")
    pretraining = tiny_pretraining_preprocessor(("contrastive", "matching"))
    ImageTextPretrainer(albef, pretraining, compile=False).save_to_preset(folder)
    vqa = VQAClassifier.from_preset(folder, answers=ANSWERS)
    assert type(vqa.preprocessor) is VQAClassifierPreprocessor
    assert vqa.preprocessor.sequence_length == pretraining.sequence_length
    classifier = ImageClassifier.from_preset(folder, num_classes=3)
    assert type(classifier.preprocessor) is ContrastivePreprocessor
    for task in (vqa, classifier):
        assert type(task.backbone) is VisionLanguageBackbone
        for a, b in zip(task.backbone.get_weights(), albef.get_weights()):
            np.testing.assert_array_equal(a, b)
    x = questions()
    fused = vqa.predict(x, verbose=0)["predictions"]  # raw data in
    assert fused.shape == (B, len(ANSWERS))
    images = classifier.predict({"images": x["images"]}, verbose=0)["predictions"]
    assert images.shape == (B, 3)


def test_backbones_fusion_is_not_saved_twice(albef):
    # It travels with the backbone; a second copy would load apart from it.
    vqa = VQAClassifier(albef, ANSWERS, compile=False)
    assert vqa.get_config()["fusion"] is None
    revived = VQAClassifier.from_config(vqa.get_config())
    assert revived.fusion is revived.backbone.fusion


def test_default_loss_is_the_soft_score_cross_entropy(albef):
    vqa = VQAClassifier(albef, ANSWERS)
    loss = vqa.loss["predictions"]
    assert isinstance(loss, keras.losses.BinaryCrossentropy)
    assert loss.get_config()["from_logits"]
    assert isinstance(vqa.optimizer, keras.optimizers.AdamW)


def test_mixed_precision_keeps_the_logits_float32(albef):
    x = tiny_preprocessor()(questions())
    run_precision_test(
        VQAClassifier,
        {
            "backbone": VisionLanguageBackbone(**parts("cross_attention")),
            "answers": ANSWERS,
        },
        {k: np.asarray(v) for k, v in x.items()},
        float32_names=LOGITS + ("head", "predictions"),
    )


def test_bad_arguments_say_what_to_fix():
    with pytest.raises(ValueError, match="at least one answer"):
        VQAClassifier(tiny_backbone(), [])
    fusion = CrossAttentionFusion(1, 2, 32, dropout=0.0)
    pooled = tiny_backbone()
    assert tiny_image_encoder().output_mode == "pooled"
    with pytest.raises(ValueError, match="output='tokens'"):
        VQAClassifier(pooled, ANSWERS, fusion=fusion)
