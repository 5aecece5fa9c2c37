import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import run_model_test
from vlpk.encoders import (
    TextEncoder,
    bert_encoder,
    distilbert_encoder,
    roberta_encoder,
)
from vlpk.encoders.text_encoder import ZeroSegmentIds

TINY = dict(
    vocabulary_size=30,
    num_layers=1,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=8,
)


def shape(*dims):
    # `run_model_test` maps `keras.tree` over the expected shapes, which walks
    # into plain tuples; a TensorShape is a leaf.
    return tf.TensorShape(dims)


def batch():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 30, (2, 8)).astype("int32")
    padding_mask = np.array([[1] * 5 + [0] * 3, [1] * 8], "int32")
    return {"token_ids": token_ids * padding_mask, "padding_mask": padding_mask}


EXPECTED = {"sequence_output": shape(2, 8, 16), "pooled_output": shape(2, 16)}


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_bert(pooling, tmp_path):
    encoder = bert_encoder(**TINY, pooling=pooling)
    assert isinstance(encoder, TextEncoder)
    assert encoder.output_dim == 16
    run_model_test(encoder, batch(), tmp_path, expected_output_shape=EXPECTED)


@pytest.mark.parametrize("builder", [roberta_encoder, distilbert_encoder])
def test_roberta_and_distilbert(builder, tmp_path):
    encoder = builder(**TINY, pooling="mean")
    run_model_test(encoder, batch(), tmp_path, expected_output_shape=EXPECTED)


def test_inputs_are_int32():
    encoder = bert_encoder(**TINY)
    assert {x.name: x.dtype for x in encoder.inputs} == {
        "token_ids": "int32",
        "padding_mask": "int32",
    }


def test_pooling_values():
    data = batch()
    encoder = bert_encoder(**TINY, pooling="cls", dropout=0.0)
    out = encoder(data, training=False)
    sequence = keras.ops.convert_to_numpy(out["sequence_output"])
    np.testing.assert_allclose(out["pooled_output"], sequence[:, 0], rtol=1e-6)

    mean = TextEncoder(encoder.backbone, pooling="mean")
    out = mean(data, training=False)
    sequence = keras.ops.convert_to_numpy(out["sequence_output"])
    np.testing.assert_allclose(
        out["pooled_output"][0], sequence[0, :5].mean(axis=0), rtol=1e-5, atol=1e-6
    )
    # Changing padded token ids changes nothing.
    changed = dict(data, token_ids=np.where(data["padding_mask"], data["token_ids"], 7))
    np.testing.assert_allclose(
        mean(changed)["pooled_output"], out["pooled_output"], rtol=1e-5, atol=1e-6
    )


def test_max_sequence_length():
    backbone = keras_hub.models.DistilBertBackbone(**TINY)
    encoder = TextEncoder(backbone, max_sequence_length=8)
    assert {x.name: tuple(x.shape) for x in encoder.inputs} == {
        "token_ids": (None, 8),
        "padding_mask": (None, 8),
    }
    assert TextEncoder.from_config(encoder.get_config()).max_sequence_length == 8


def test_pooler_needs_bert():
    with pytest.raises(ValueError, match="pooler"):
        roberta_encoder(**TINY, pooling="pooler")
    with pytest.raises(ValueError, match="cls"):
        bert_encoder(**TINY, pooling="max")


def test_zero_segment_ids():
    out = ZeroSegmentIds()(np.ones((2, 3), "int32"))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out, np.zeros((2, 3)))
