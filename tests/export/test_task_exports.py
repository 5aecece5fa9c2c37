"""`caption` and `answer` signatures, served by a TensorFlow-only process."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.models.conftest import tiny_image_encoder
from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.encoders import bert_encoder
from vlpk.export import (
    answer_archive,
    caption_archive,
    export_saved_model,
    pretrainer_archive,
)
from vlpk.generation import decode_captions, generate_captions
from vlpk.layers import CaptionDecoder, CrossAttentionFusion
from vlpk.models import Captioner, FusionClassifier, VisionLanguagePretrainer
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

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
# Not "keras": `import tensorflow` (and tf-text's layers) import it already.
out["modules"] = sorted(m for m in ("keras_hub", "vlpk") if m in sys.modules)
print(json.dumps(out))
"""

TEXTS = ["a red circle left of a blue square", "two small green triangles"]
QUESTIONS = ["what color is the circle?", "how many shapes are there?", "is it red?"]
ANSWERS = ["red", "2", "yes", "no", "blue"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    # Fixed weights whatever ran before: an untrained decoder's captions (and
    # whether it writes any token at all) depend on its initialization.
    keras.utils.set_random_seed(0)
    tokenizer = wordpiece_tokenizer(learn_vocabulary(TEXTS * 3 + QUESTIONS, 60))
    vocabulary_size = tokenizer.vocabulary_size()
    text_pre = TextPreprocessor(tokenizer, 8)
    image_pre = ImagePreprocessor(32)

    def decoder():
        return CaptionDecoder(
            vocabulary_size=vocabulary_size,
            sequence_length=8,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
        )

    def text_encoder():
        return bert_encoder(
            vocabulary_size, num_layers=1, hidden_dim=16, max_sequence_length=8
        )

    def fusion():
        return CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16)

    captioner = Captioner(tiny_image_encoder("tokens"), decoder())
    vqa = FusionClassifier(
        tiny_image_encoder("tokens"),
        text_encoder(),
        fusion(),
        num_classes=len(ANSWERS),
        activation=None,
    )
    coca = VisionLanguagePretrainer(
        tiny_image_encoder("tokens"),
        text_encoder(),
        caption_decoder=decoder(),
        objectives=("contrastive", "captioning"),
        embedding_dim=8,
    )
    exports = {
        "captioner": export_saved_model(
            caption_archive(captioner, image_pre, tokenizer), str(root), "cap"
        ),
        "vqa": export_saved_model(
            answer_archive(vqa, ANSWERS, image_pre, text_pre), str(root), "vqa"
        ),
        "coca": export_saved_model(
            pretrainer_archive(coca, image_pre, text_pre, tokenizer), str(root), "coca"
        ),
    }
    rng = np.random.default_rng(1)
    images = []
    for i, fmt in enumerate(["JPEG", "PNG", "JPEG"]):
        path = os.path.join(root, f"{i}.{fmt.lower()}")
        Image.fromarray(rng.integers(0, 255, (36, 30, 3), dtype=np.uint8)).save(
            path, fmt
        )
        images.append(path)
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
    pixels = image_pre(tf.constant([open(p, "rb").read() for p in images]))
    return {
        "out": json.loads(result.stdout.strip().splitlines()[-1]),
        "pixels": pixels,
        "tokenizer": tokenizer,
        "text_pre": text_pre,
        "models": {"captioner": captioner, "vqa": vqa, "coca": coca},
    }


def test_only_tensorflow_was_imported(served):
    assert served["out"]["modules"] == []


def eager_captions(model, served):
    tokens = model.image_tokenizer()(served["pixels"])
    tokenizer = served["tokenizer"]
    ids = generate_captions(
        model.caption_decoder,
        tokens,
        tokenizer.token_to_id("[CLS]"),
        tokenizer.token_to_id("[SEP]"),
    )
    return decode_captions(ids, tokenizer)


@pytest.mark.parametrize("name", ["captioner", "coca"])
def test_caption_signature_matches_keras(served, name):
    out = served["out"][name]
    assert "caption" in out["signatures"]
    expected = eager_captions(served["models"][name], served)
    assert out["caption"] == expected
    assert any(expected)  # an untrained decoder still writes some tokens


def test_signatures_follow_the_model(served):
    out = served["out"]
    assert out["captioner"]["signatures"] == ["caption", "serving_default"]
    assert out["vqa"]["signatures"] == ["answer", "serving_default"]
    assert out["coca"]["signatures"] == [
        "caption",
        "embed_image",
        "embed_text",
        "score",
        "serving_default",
    ]


def test_answer_signature_matches_keras(served):
    text = served["text_pre"](tf.constant(QUESTIONS))
    logits = served["models"]["vqa"]({"images": served["pixels"], **text})
    logits = np.asarray(logits["predictions"])
    best = logits.argmax(axis=1)
    assert served["out"]["vqa"]["answer"] == [ANSWERS[i] for i in best]
    expected = 1 / (1 + np.exp(-logits[np.arange(len(best)), best]))
    np.testing.assert_allclose(served["out"]["vqa"]["score"], expected, atol=1e-5)


def test_answer_archive_checks_the_vocabulary(served):
    with pytest.raises(ValueError, match="logits"):
        answer_archive(
            served["models"]["vqa"],
            ANSWERS[:2],
            ImagePreprocessor(32),
            served["text_pre"],
        )
