"""Every task's signatures (`caption`, `answer`, `classify`, the contrastive
ones), served by a TensorFlow-only process, equal the task's own answers."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    tiny_image_encoder,
    tiny_text_encoder,
)
from tests.models.test_vision_language_family import VOCABULARY, parts
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.export import export_saved_model
from vlpk.layers import CaptionDecoder
from vlpk.models import (
    ContrastivePreprocessor,
    DualEncoderBackbone,
    ImageCaptioner,
    ImageCaptionerPreprocessor,
    ImageClassifier,
    ImageTextPretrainer,
    VisionLanguageBackbone,
    VisionLanguagePreprocessor,
    VQAClassifier,
    VQAClassifierPreprocessor,
)
from vlpk.text import wordpiece_tokenizer

CLIENT = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401

request = json.load(open(sys.argv[1]))
images = tf.constant([open(p, "rb").read() for p in request["images"]])
out = {}
for name, path in request["exports"].items():
    sig = tf.saved_model.load(path).signatures
    out[name] = {"signatures": sorted(sig.keys())}
    if "caption" in sig:
        out[name]["caption"] = [
            c.decode() for c in sig["caption"](image_bytes=images)["caption"].numpy()
        ]
    if "answer" in sig:
        questions = tf.constant(request["questions"])
        got = sig["answer"](image_bytes=images, question=questions)
        out[name]["answer"] = [a.decode() for a in got["answer"].numpy()]
        out[name]["score"] = got["score"].numpy().tolist()
    if "classify" in sig:
        got = sig["classify"](image_bytes=images)
        out[name]["class_name"] = [c.decode() for c in got["class_name"].numpy()]
        out[name]["probabilities"] = got["probabilities"].numpy().tolist()
# Not "keras": `import tensorflow` (and tf-text's layers) import it already.
out["modules"] = sorted(m for m in ("keras_hub", "vlpk") if m in sys.modules)
print(json.dumps(out))
"""

QUESTIONS = ["is the circle red", "a small square", "big green"]
ANSWERS = ["red", "2", "yes", "no", "blue"]
CLASSES = ["circle", "square", "triangle"]


def tiny_tasks():
    """One tiny task of each kind, each with its own kind of preprocessor."""
    tokenizer = wordpiece_tokenizer(VOCABULARY)

    def preprocessor(cls, **kwargs):
        return cls(tokenizer, ImagePreprocessor(32), SEQUENCE_LENGTH, **kwargs)

    albef = VisionLanguageBackbone(**parts("cross_attention"))
    coca = VisionLanguageBackbone(**parts(decoder="decoder"))
    dual = DualEncoderBackbone(tiny_image_encoder(), tiny_text_encoder(), 8)
    size = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)
    decoder = CaptionDecoder(len(VOCABULARY), SEQUENCE_LENGTH, dropout=0.0, **size)
    captioner = ImageCaptioner(
        albef, preprocessor(ImageCaptionerPreprocessor), decoder, compile=False
    )
    # Untrained, a decoder barely looks at the image and gives every image
    # one caption, so that swapped images would pass unseen: weigh it more.
    decoder.image_projection.kernel.assign(10 * decoder.image_projection.kernel)
    objectives = ("contrastive", "captioning")
    return {
        "captioner": captioner,
        "vqa": VQAClassifier(
            albef, ANSWERS, preprocessor(VQAClassifierPreprocessor), compile=False
        ),
        "coca": ImageTextPretrainer(
            coca,
            preprocessor(VisionLanguagePreprocessor, objectives=objectives),
            compile=False,
        ),
        "classifier": ImageClassifier(
            dual,
            len(CLASSES),
            preprocessor(ContrastivePreprocessor),
            class_names=CLASSES,
            compile=False,
        ),
    }


def write_images(root):
    rng = np.random.default_rng(1)
    paths = []
    for i, fmt in enumerate(["JPEG", "PNG", "JPEG"]):
        paths.append(os.path.join(root, f"{i}.{fmt.lower()}"))
        pixels = rng.integers(0, 255, (36, 30, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(paths[-1], fmt)
    return paths


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tasks"))
    # Fixed weights whatever ran before: an untrained decoder's captions (and
    # whether it writes any token at all) depend on its initialization.
    keras.utils.set_random_seed(0)
    tasks = tiny_tasks()
    exports = {
        name: export_saved_model(task.serving_archive(), root, name)
        for name, task in tasks.items()
    }
    images = write_images(root)
    request = os.path.join(root, "request.json")
    with open(request, "w") as f:
        json.dump({"images": images, "exports": exports, "questions": QUESTIONS}, f)
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, request],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        "out": json.loads(result.stdout.strip().splitlines()[-1]),
        "image_bytes": [open(p, "rb").read() for p in images],
        "images": images,
        "exports": exports,
        "tasks": tasks,
    }


def test_only_tensorflow_was_imported(served):
    assert served["out"]["modules"] == []


def test_signatures_follow_the_task(served):
    out = served["out"]
    assert out["captioner"]["signatures"] == ["caption", "serving_default"]
    assert out["vqa"]["signatures"] == ["answer", "serving_default"]
    assert out["classifier"]["signatures"] == ["classify", "serving_default"]
    assert out["coca"]["signatures"] == [
        "caption",
        "embed_image",
        "embed_text",
        "score",
        "serving_default",
    ]


@pytest.mark.parametrize("name", ["captioner", "coca"])
def test_caption_signature_matches_generate(served, name):
    expected = served["tasks"][name].generate(served["image_bytes"])
    assert served["out"][name]["caption"] == expected
    assert any(expected)  # an untrained decoder still writes some tokens
    if name == "captioner":
        assert len(set(expected)) > 1, f"captions must differ: {expected}"


def test_answer_signature_matches_predict(served):
    x = {"images": np.array(served["image_bytes"], object), "text": QUESTIONS}
    logits = served["tasks"]["vqa"].predict(x, verbose=0)["predictions"]
    best = logits.argmax(axis=1)
    assert served["out"]["vqa"]["answer"] == [ANSWERS[i] for i in best]
    expected = 1 / (1 + np.exp(-logits[np.arange(len(best)), best]))
    np.testing.assert_allclose(served["out"]["vqa"]["score"], expected, atol=1e-5)


def test_classify_signature_matches_predict(served):
    x = {"images": np.array(served["image_bytes"], object)}
    logits = served["tasks"]["classifier"].predict(x, verbose=0)["predictions"]
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    out = served["out"]["classifier"]
    np.testing.assert_allclose(out["probabilities"], probabilities, atol=1e-5)
    assert out["class_name"] == [CLASSES[i] for i in logits.argmax(-1)]


def test_predict_command_classifies_an_image(served, capsys):
    from vlpk.cli import main

    model, image = served["exports"]["classifier"], served["images"][1]
    assert main(["predict", "--model", model, "--image", image]) == 0
    result = json.loads(capsys.readouterr().out)
    out = served["out"]["classifier"]
    assert result["class_name"] == out["class_name"][1]
    assert result["class_name"] == CLASSES[result["class_id"]]
    np.testing.assert_allclose(result["probabilities"], out["probabilities"][1], 1e-5)
