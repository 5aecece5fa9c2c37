"""Streaming generation yields, piece by piece, what `generate()` returns."""

import keras
import numpy as np
import pytest

from tests.export.test_vision_lm_export import tiny_task
from vlpk.models.vision_lm.streaming import stream_generate


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("attention", ["causal", "prefix"])
def test_streamed_pieces_join_to_the_generated_answer(family, attention):
    keras.utils.set_random_seed(0)
    task = tiny_task(family, attention=attention)
    rng = np.random.default_rng(0)
    for prompt in ("what shape is in the image?", ""):
        image = rng.integers(0, 256, (10, 12, 3)).astype("uint8")
        pieces = list(stream_generate(task, image, prompt))
        expected = task.generate(
            {"images": image, "prompts": prompt}, strip_prompt=True
        )
        assert "".join(pieces).strip() == expected.strip()
        assert len(pieces) > 1, pieces


def test_beam_search_cannot_stream():
    task = tiny_task("gpt2")
    task.compile(sampler="beam")
    with pytest.raises(ValueError, match="greedy"):
        next(stream_generate(task, np.zeros((8, 8, 3), "uint8"), "hi"))
