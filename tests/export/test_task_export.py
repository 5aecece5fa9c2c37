"""`contrastive_task_archive`: a task's SavedModel, served by plain TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from vlpk.export import contrastive_task_archive, export_saved_model
from vlpk.models import (
    ContrastivePretrainer,
    KerasHubContrastivePreprocessor,
    KerasHubDualEncoderBackbone,
)

# A fresh interpreter with only what TF Serving links: TensorFlow and the TF
# Text ops (SentencePiece, regex split). No keras_hub, no vlpk.
SERVING_CLIENT = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

path, request = sys.argv[1], json.load(open(sys.argv[2]))
images = tf.constant([bytes.fromhex(h) for h in request["images"]])
texts = tf.constant(request["texts"])
signatures = tf.saved_model.load(path).signatures
print(json.dumps({
    "signatures": sorted(signatures.keys()),
    "image_embedding": signatures["embed_image"](image_bytes=images)[
        "image_embedding"].numpy().tolist(),
    "text_embedding": signatures["embed_text"](text=texts)[
        "text_embedding"].numpy().tolist(),
    "score": signatures["serving_default"](image_bytes=images, text=texts)[
        "score"].numpy().tolist(),
    "modules": sorted(m for m in ("keras_hub", "vlpk") if m in sys.modules),
}))
"""


# About 14 s on two CPUs (the SavedModel write and a fresh TensorFlow
# process): over the test budget of the default run. `pytest -m slow` runs it.
@pytest.mark.slow
def test_keras_hub_task_serves_raw_bytes_and_strings(keras_hub_siglip_preset, tmp_path):
    # SigLIP: its tokenizer traces in a fraction of CLIP's time; the archive
    # is the same code for both (and for `DualEncoderBackbone`).
    preset = keras_hub_siglip_preset
    task = ContrastivePretrainer(
        KerasHubDualEncoderBackbone.from_keras_hub_preset(preset.path),
        KerasHubContrastivePreprocessor.from_keras_hub_preset(preset.path),
    )
    path = export_saved_model(contrastive_task_archive(task), str(tmp_path), "siglip")
    images = [tf.io.encode_png(image).numpy() for image in preset.images]
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"images": [b.hex() for b in images], "texts": preset.captions})
    )
    result = subprocess.run(
        [sys.executable, "-c", SERVING_CLIENT, path, str(request)],
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

    # The task's own preprocessing and embeddings, in this process.
    x = {"images": np.array(images, dtype=object), "text": np.array(preset.captions)}
    inputs, _ = task.preprocessor(x)
    outputs = task.backbone(inputs)
    np.testing.assert_allclose(
        served["image_embedding"], outputs["image_embedding"], atol=1e-5
    )
    np.testing.assert_allclose(
        served["text_embedding"], outputs["text_embedding"], atol=1e-5
    )
    score = np.sum(outputs["image_embedding"] * outputs["text_embedding"], axis=-1)
    np.testing.assert_allclose(served["score"], score, atol=1e-5)
