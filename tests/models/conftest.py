import numpy as np
import pytest

from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn

VOCABULARY_SIZE = 30
SEQUENCE_LENGTH = 6


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    mask = np.ones((4, SEQUENCE_LENGTH), "int32")
    mask[0, 4:] = 0
    return {
        "images": rng.uniform(0, 255, size=(4, 32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(5, VOCABULARY_SIZE, (4, SEQUENCE_LENGTH)).astype(
            "int32"
        ),
        "padding_mask": mask,
    }


def tiny_image_encoder(output="pooled"):
    return ImageEncoder(
        small_cnn(32, widths=(8, 16)), output=output, normalization="unit"
    )


def tiny_text_encoder():
    return bert_encoder(
        VOCABULARY_SIZE,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=SEQUENCE_LENGTH,
        pooling="pooler",
    )
