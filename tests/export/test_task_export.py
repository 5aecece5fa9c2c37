"""`Task.serving_archive()`: a task's SavedModel, served by plain TensorFlow."""

import numpy as np
import pytest
import tensorflow as tf

from tests.export.test_saved_model import serve_in_plain_tensorflow
from vlpk.export import export_saved_model
from vlpk.models import (
    ContrastivePretrainer,
    KerasHubContrastivePreprocessor,
    KerasHubDualEncoderBackbone,
)


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
    path = export_saved_model(task.serving_archive(), str(tmp_path), "siglip")
    images = [tf.io.encode_png(image).numpy() for image in preset.images]
    files = []
    for i, data in enumerate(images):
        files.append(str(tmp_path / f"{i}.png"))
        with open(files[-1], "wb") as f:
            f.write(data)
    # A fresh interpreter with only what TF Serving links: TensorFlow and the
    # TF Text ops (SentencePiece, regex split). No keras_hub, no vlpk.
    served = serve_in_plain_tensorflow(path, files, preset.captions, tmp_path)

    # The task's own preprocessing and embeddings, in this process.
    x = {"images": np.array(images, dtype=object), "text": np.array(preset.captions)}
    inputs, _ = task.preprocessor(x)
    outputs = task.backbone(inputs)
    np.testing.assert_allclose(
        served["embed_image"], outputs["image_embedding"], atol=1e-5
    )
    np.testing.assert_allclose(
        served["embed_text"], outputs["text_embedding"], atol=1e-5
    )
    score = np.sum(outputs["image_embedding"] * outputs["text_embedding"], axis=-1)
    np.testing.assert_allclose(served["score"], score, atol=1e-5)
