"""The SavedModel export, checked the way TF Serving would use it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.models.conftest import tiny_image_encoder
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.encoders import bert_encoder
from vlpk.export import existing_versions, export_saved_model, next_version
from vlpk.export.saved_model import signature_names
from vlpk.export.versioning import write_version_atomically
from vlpk.models import (
    ContrastivePreprocessor,
    ContrastivePretrainer,
    DualEncoderBackbone,
)
from vlpk.text import learn_vocabulary, wordpiece_tokenizer

# Runs in a fresh interpreter that imports only what TF Serving links:
# TensorFlow and TF Text ops. No keras_hub, no vlpk.
SERVING_CLIENT = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

path, request = sys.argv[1], json.load(open(sys.argv[2]))
images = [open(p, "rb").read() for p in request["images"]]
loaded = tf.saved_model.load(path)
out = {"signatures": sorted(loaded.signatures.keys())}
sig = loaded.signatures
out["embed_image"] = sig["embed_image"](image_bytes=tf.constant(images))[
    "image_embedding"].numpy().tolist()
out["embed_text"] = sig["embed_text"](text=tf.constant(request["texts"]))[
    "text_embedding"].numpy().tolist()
out["score"] = sig["score"](
    image_bytes=tf.constant(images), text=tf.constant(request["texts"]))[
    "score"].numpy().tolist()
out["serving_default"] = sig["serving_default"](
    image_bytes=tf.constant(images), text=tf.constant(request["texts"]))[
    "score"].numpy().tolist()
out["modules"] = sorted(m for m in ("keras_hub", "vlpk") if m in sys.modules)
print(json.dumps(out))
"""


def serve_in_plain_tensorflow(path, image_files, texts, tmp_path):
    """Runs `SERVING_CLIENT` on an export in a fresh process; its answers.

    Checks that the process imported neither keras_hub nor vlpk and that the
    export has the dual-encoder signatures.
    """
    request = os.path.join(tmp_path, "request.json")
    with open(request, "w") as f:
        json.dump({"images": list(image_files), "texts": list(texts)}, f)
    result = subprocess.run(
        [sys.executable, "-c", SERVING_CLIENT, str(path), request],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["modules"] == []
    assert {"embed_image", "embed_text", "score", "serving_default"} <= set(
        served["signatures"]
    )
    return served


TEXTS = ["a red circle left of a blue square", "two shapes", "一个红色的圆"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    vocabulary = learn_vocabulary(TEXTS * 5, 60)
    preprocessor = ContrastivePreprocessor(
        wordpiece_tokenizer(vocabulary), ImagePreprocessor(32), sequence_length=6
    )
    text_encoder = bert_encoder(
        len(vocabulary), num_layers=1, hidden_dim=16, max_sequence_length=6
    )
    model = DualEncoderBackbone(tiny_image_encoder(), text_encoder, embedding_dim=8)
    task = ContrastivePretrainer(model, preprocessor, compile=False)
    archive = task.serving_archive()
    path = export_saved_model(archive, str(root), "tiny")
    images = []
    rng = np.random.default_rng(0)
    for i, (size, fmt) in enumerate([((40, 50), "JPEG"), ((32, 32), "PNG")] * 2):
        array = rng.integers(0, 255, size + (3,), dtype=np.uint8)
        file = os.path.join(root, f"image{i}.{fmt.lower()}")
        Image.fromarray(array).save(file, fmt)
        images.append(file)
    images = images[:3]
    return {
        "root": str(root),
        "path": path,
        "archive": archive,
        "model": model,
        "images": images,
        "preprocessor": preprocessor,
    }


def keras_embeddings(exported, image_files=(), texts=()):
    """`(image, text)` embeddings of the backbone called eagerly, after the
    task's preprocessor: what the signatures must serve. None for no input."""
    model, preprocessor = exported["model"], exported["preprocessor"]
    images = text = None
    if image_files:
        raw = tf.constant([open(p, "rb").read() for p in image_files])
        images = model.get_image_embeddings(preprocessor.preprocess_images(raw))
        images = np.asarray(images)
    if texts:
        inputs = preprocessor.preprocess_text(tf.constant(list(texts)))
        text = np.asarray(model.get_text_embeddings(**inputs))
    return images, text


def test_layout_is_tf_serving(exported):
    assert exported["path"] == os.path.join(exported["root"], "tiny", "1")
    assert os.path.isfile(os.path.join(exported["path"], "saved_model.pb"))
    assert os.path.isdir(os.path.join(exported["path"], "variables"))
    # No temporary folders are left behind.
    assert os.listdir(os.path.join(exported["root"], "tiny")) == ["1"]
    # The contrastive task's signatures, as TF Serving lists them.
    assert signature_names(exported["path"]) == [
        "embed_image",
        "embed_text",
        "score",
        "serving_default",
    ]


def test_plain_tensorflow_process_serves_it(exported, tmp_path):
    served = serve_in_plain_tensorflow(
        exported["path"], exported["images"], TEXTS, tmp_path
    )
    # Compare with the Keras model in this process.
    image_embedding, text_embedding = keras_embeddings(
        exported, exported["images"], TEXTS
    )
    np.testing.assert_allclose(served["embed_image"], image_embedding, atol=1e-5)
    np.testing.assert_allclose(served["embed_text"], text_embedding, atol=1e-5)
    expected_score = (image_embedding * text_embedding).sum(-1)
    np.testing.assert_allclose(served["score"], expected_score, atol=1e-5)
    np.testing.assert_allclose(served["serving_default"], expected_score, atol=1e-5)


def test_too_long_text_preprocessor_is_refused(exported):
    vocabulary = learn_vocabulary(TEXTS, 40)
    too_long = ContrastivePreprocessor(
        wordpiece_tokenizer(vocabulary), ImagePreprocessor(32), sequence_length=12
    )
    task = ContrastivePretrainer(exported["model"], too_long, compile=False)
    with pytest.raises(ValueError, match="at most 6"):
        task.serving_archive()


def test_versions_increment_and_refuse_overwrite(exported):
    root, archive = exported["root"], exported["archive"]
    model_dir = os.path.join(root, "tiny")
    path = export_saved_model(archive, root, "tiny")
    assert path.endswith(os.path.join("tiny", "2"))
    assert existing_versions(model_dir) == [1, 2] and next_version(model_dir) == 3
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_saved_model(archive, root, "tiny", version=2)
    export_saved_model(archive, root, "tiny", version=2, overwrite=True)
    assert sorted(os.listdir(model_dir)) == ["1", "2"]


def test_failed_write_leaves_no_version(tmp_path):
    def broken(path):
        os.makedirs(path)
        with open(os.path.join(path, "saved_model.pb"), "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_version_atomically(str(tmp_path / "m"), broken)
    assert os.listdir(tmp_path / "m") == []


def test_tfsm_layer_reloads_it_inside_keras(exported):
    import keras

    layer = keras.layers.TFSMLayer(exported["path"], call_endpoint="embed_text")
    out = layer(tf.constant(TEXTS))["text_embedding"]
    _, expected = keras_embeddings(exported, texts=TEXTS)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)


def test_predict_command(exported, tmp_path, capsys):
    from vlpk.cli import main

    image = exported["images"][0]
    args = ["predict", "--model", exported["path"], "--image", image]
    assert main(args + ["--text", TEXTS[0], "--text", TEXTS[1]]) == 0
    result = json.loads(capsys.readouterr().out)
    images, texts = keras_embeddings(exported, [image] * 2, TEXTS[:2])
    expected = (images * texts).sum(-1)
    assert [s["text"] for s in result["scores"]] == TEXTS[:2]
    np.testing.assert_allclose([s["score"] for s in result["scores"]], expected, 1e-5)

    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(open(exported["images"][0], "rb").read()[:300])
    for path, message in [
        (not_image, "is not a JPEG, PNG"),
        (tmp_path / "missing.jpg", "No image file"),
        (truncated, "could not be decoded"),
    ]:
        code = main(["predict", "--model", exported["path"], "--image", str(path)])
        assert code == 2, path
        assert message in capsys.readouterr().err
    assert main(args + ["--caption"]) == 2
    assert "no 'caption' signature" in capsys.readouterr().err


KILLED_EXPORT = r"""
import os, signal, sys
from vlpk.export.versioning import write_version_atomically

def write(path):
    os.makedirs(path)
    with open(os.path.join(path, "saved_model.pb"), "w") as f:
        f.write("half")
    os.kill(os.getpid(), signal.SIGKILL)  # killed mid-way, no cleanup runs

write_version_atomically(sys.argv[1], write)
"""


def test_killed_export_leaves_no_numeric_version(tmp_path):
    model_dir = tmp_path / "m"
    result = subprocess.run(
        [sys.executable, "-c", KILLED_EXPORT, str(model_dir)], timeout=300
    )
    assert result.returncode == -9
    left = os.listdir(model_dir)
    assert left and not any(name.isdigit() for name in left)  # only the tmp dir
    assert existing_versions(str(model_dir)) == [] and next_version(str(model_dir)) == 1
