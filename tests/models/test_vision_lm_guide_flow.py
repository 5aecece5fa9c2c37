"""docs/vision_lm.md's Python flow, at test size, on a local Llama preset."""

import io

import keras_hub
import numpy as np
from PIL import Image

from tests.language_models import save_lm_preset
from vlpk.data import ImagePreprocessor
from vlpk.encoders import ImageEncoder, small_cnn
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone, VisionLMPreprocessor


def jpeg(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_guide_flow(tmp_path):
    save_lm_preset(tmp_path / "my_llama", "llama")
    jpeg_bytes = np.array([jpeg("red"), jpeg("blue")], dtype=object)
    questions = np.array(["what color is it?", "what color is it?"])
    answers = np.array(["red.", "blue."])

    # The guide's lines, with a tiny image encoder.
    lm = keras_hub.models.Backbone.from_preset(str(tmp_path / "my_llama"))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(tmp_path / "my_llama"))
    backbone = VisionLMBackbone(
        ImageEncoder(small_cnn(64, widths=(8,)), output="tokens"),
        lm,
        attention="prefix",
    )
    task = VisionCausalLM(
        backbone,
        VisionLMPreprocessor(tokenizer, ImagePreprocessor(64), sequence_length=64),
    )
    history = task.fit(
        {"images": jpeg_bytes, "prompts": questions, "responses": answers}, epochs=1
    )
    assert np.isfinite(history.history["loss"][0])
    answer = task.generate(
        {"images": jpeg_bytes[0], "prompts": "what is in the image?"}
    )
    assert isinstance(answer, str) and answer.startswith("what is in the image?")
