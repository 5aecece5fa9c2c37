"""`VisionCausalLM`'s `generate` and `caption` signatures, served by a
TensorFlow-only process, equal `generate()` in Keras."""

import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
from PIL import Image

from tests.language_models import learn_gpt2_bpe, llama_sentencepiece
from tests.models.test_vision_lm import backbone, preprocessor
from vlpk.export import export_saved_model
from vlpk.models.vision_lm import VisionCausalLM

CLIENT = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401

request = json.load(open(sys.argv[1]))
images = tf.constant([open(p, "rb").read() for p in request["images"]])
prompts = tf.constant(request["prompts"])
out = {}
for name, path in request["exports"].items():
    sig = tf.saved_model.load(path).signatures
    got = sig["generate"](image_bytes=images, prompt=prompts)["text"].numpy()
    captions = sig["caption"](image_bytes=images)["caption"].numpy()
    try:
        sig["generate"](image_bytes=tf.constant([b"not an image"]), prompt=prompts[:1])
        bad = "no error"
    except tf.errors.InvalidArgumentError as error:
        bad = "InvalidArgumentError"
    out[name] = {
        "signatures": sorted(sig.keys()),
        "text": [t.decode("utf-8", "replace") for t in got],
        "caption": [c.decode("utf-8", "replace") for c in captions],
        "bad_bytes": bad,
    }
out["modules"] = sorted(m for m in ("keras_hub", "vlpk") if m in sys.modules)
print(json.dumps(out))
"""

# Empty, Chinese, and thousands of words (cut from their start to fit).
PROMPTS = ["what shape is in the image?", "", "图里有什么形状？", "red " * 3000]


def tiny_task(family, attention="causal"):
    if family == "gpt2":
        vocabulary, merges = learn_gpt2_bpe()
        tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
    else:
        tokenizer = keras_hub.models.LlamaTokenizer(proto=llama_sentencepiece())
    model = backbone(
        family, attention=attention, vocabulary_size=tokenizer.vocabulary_size()
    )
    task = VisionCausalLM(model, preprocessor(tokenizer, sequence_length=16))
    task.compile(sampler="greedy")
    return task


def write_images(root):
    rng = np.random.default_rng(1)
    paths = []
    for i, fmt in enumerate(["JPEG", "PNG", "JPEG", "PNG"]):
        paths.append(os.path.join(root, f"{i}.{fmt.lower()}"))
        Image.fromarray(rng.integers(0, 255, (20, 16, 3), np.uint8)).save(
            paths[-1], fmt
        )
    return paths


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("vision_lm"))
    keras.utils.set_random_seed(0)
    tasks = {family: tiny_task(family) for family in ("gpt2", "llama")}
    exports = {
        name: export_saved_model(task.serving_archive(), root, name)
        for name, task in tasks.items()
    }
    images = write_images(root)
    request = os.path.join(root, "request.json")
    with open(request, "w") as f:
        json.dump({"images": images, "exports": exports, "prompts": PROMPTS}, f)
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, request],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        "out": json.loads(result.stdout.strip().splitlines()[-1]),
        "image_bytes": [open(p, "rb").read() for p in images],
        "tasks": tasks,
    }


def test_only_tensorflow_was_imported(served):
    assert served["out"]["modules"] == []


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_generate_and_caption_signatures_equal_keras(served, family):
    task, out = served["tasks"][family], served["out"][family]
    assert out["signatures"] == ["caption", "generate", "serving_default"]
    images = np.array(served["image_bytes"], dtype=object)
    expected = task.generate(
        {"images": images, "prompts": np.array(PROMPTS)}, strip_prompt=True
    )
    assert out["text"] == [t.strip() for t in expected]
    captions = task.generate(
        {"images": images, "prompts": np.array(["Describe the image."] * 4)},
        strip_prompt=True,
    )
    assert out["caption"] == [c.strip() for c in captions]
    assert any(out["text"]), out["text"]  # an untrained LM still writes tokens


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_bad_image_bytes_are_an_error_not_a_crash(served, family):
    assert served["out"][family]["bad_bytes"] == "InvalidArgumentError"
