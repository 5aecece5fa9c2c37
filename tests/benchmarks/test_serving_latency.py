"""benchmarks/serving_latency.py: its timing helpers, and its rows end to end
on a tiny contrastive task (no run folder needed)."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from benchmarks.serving_latency import (
    latency_stats,
    markdown_tables,
    parse_calls,
    saved_model_rows,
    tflite_callable,
    tflite_rows,
    time_interleaved,
)
from tests.models.conftest import tiny_image_encoder
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.encoders import bert_encoder
from vlpk.export import export_saved_model
from vlpk.export.tflite import export_tflite
from vlpk.models import (
    ContrastivePreprocessor,
    ContrastivePretrainer,
    DualEncoderBackbone,
)
from vlpk.text import learn_vocabulary, wordpiece_tokenizer

TEXTS = ["a red circle left of a blue square", "two shapes", "a green triangle"]


def test_latency_stats_percentiles_in_ms():
    stats = latency_stats([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert stats["calls"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p99_ms"] == pytest.approx(99.01)
    assert stats["min_ms"] == pytest.approx(1.0)
    assert stats["max_ms"] == pytest.approx(100.0)
    with pytest.raises(ValueError):
        latency_stats([])


def test_time_interleaved_counts_and_order():
    order = []
    callables = {name: (lambda n=name: order.append(n)) for name in "abc"}
    stats = time_interleaved(callables, calls=7, warmup=2)
    assert set(stats) == {"a", "b", "c"}
    for s in stats.values():
        assert s["calls"] == 7
        assert 0 <= s["min_ms"] <= s["p50_ms"] <= s["p99_ms"] <= s["max_ms"]
    warmup, timed = order[:6], order[6:]
    assert warmup == ["a", "a", "b", "b", "c", "c"]
    assert len(timed) == 21
    # Each round calls every callable once, starting from the next one.
    assert timed[:9] == list("abcbcacab")
    with pytest.raises(ValueError):
        time_interleaved(callables, calls=0)


def test_parse_calls():
    assert parse_calls("200,50", [1, 32]) == {1: 200, 32: 50}
    assert parse_calls("10", [1, 32]) == {1: 10, 32: 10}
    with pytest.raises(SystemExit):
        parse_calls("1,2,3", [1, 32])


def _tflite_file(path, function):
    """`function` as a `.tflite` with one signature, as vlpk converts."""
    module = tf.Module()
    module.f = function
    saved = path + ".saved_model"
    tf.saved_model.save(module, saved, signatures={"serving_default": function})
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    with open(path, "wb") as f:
        f.write(converter.convert())
    return path


def test_tflite_batch_is_resized_or_falls_back(tmp_path):
    weights = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def dense(x):
        return {"y": tf.matmul(x, weights)}

    square = tf.constant([[1.0, 2.0], [3.0, 4.0]])

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def fixed(x):  # reshapes with the exported batch of 1 built in
        return {"y": tf.reshape(tf.matmul(tf.reshape(x, [2, 2]), square), [1, 4])}

    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = x @ weights.numpy()
    f, batching, check = tflite_callable(
        _tflite_file(str(tmp_path / "dense.tflite"), dense), {"x": x}, "y"
    )
    assert batching.startswith("resized")
    assert check["max_abs_difference"] < 1e-5
    np.testing.assert_allclose(f(), expected, rtol=1e-5, atol=1e-5)
    f, batching, check = tflite_callable(
        _tflite_file(str(tmp_path / "fixed.tflite"), fixed), {"x": x}, "y"
    )
    assert batching == "5 back-to-back batch-1 calls"
    assert "error" in check
    squared = (x.reshape(5, 2, 2) @ square.numpy()).reshape(5, 4)
    np.testing.assert_allclose(f(), squared, rtol=1e-5, atol=1e-5)
    f, batching, _ = tflite_callable(str(tmp_path / "fixed.tflite"), {"x": x[:1]}, "y")
    assert batching == "batch 1"
    normalized = tflite_callable(
        str(tmp_path / "dense.tflite"), {"x": x}, "y", normalize=True
    )[0]()
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(
        normalized * np.linalg.norm(expected, axis=-1, keepdims=True),
        expected,
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving_latency")
    vocabulary = learn_vocabulary(TEXTS * 5, 60)
    preprocessor = ContrastivePreprocessor(
        wordpiece_tokenizer(vocabulary), ImagePreprocessor(32), sequence_length=6
    )
    text_encoder = bert_encoder(
        len(vocabulary), num_layers=1, hidden_dim=16, max_sequence_length=6
    )
    model = DualEncoderBackbone(tiny_image_encoder(), text_encoder, embedding_dim=8)
    rng = np.random.default_rng(0)
    image_bytes = []
    for i in range(3):
        path = os.path.join(root, f"{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(path)
        with open(path, "rb") as f:
            image_bytes.append(f.read())
    return {
        "root": str(root),
        "task": ContrastivePretrainer(model, preprocessor, compile=False),
        "image_bytes": image_bytes,
    }


# The benchmark script end to end (a SavedModel and TFLite exports, timed):
# about 30 s on two CPUs. `pytest -m slow` runs it.
@pytest.mark.slow
def test_saved_model_and_tflite_rows_end_to_end(tiny):
    task = tiny["task"]
    model, preprocessor = task.backbone, task.preprocessor
    path = export_saved_model(task.serving_archive(), tiny["root"], "tiny")
    calls = {1: 3, 3: 2}
    rows = saved_model_rows(
        path,
        model,
        preprocessor,
        tiny["image_bytes"],
        TEXTS,
        [1, 3],
        calls,
        warmup=1,
        log=lambda *args, **kwargs: None,
    )
    names = {"embed_image", "embed_text", "score", "serving_default"}
    assert {(r["signature"], r["batch"]) for r in rows} == {
        (n, b) for n in names for b in (1, 3)
    }
    for r in rows:
        assert r["saved_model"]["calls"] == calls[r["batch"]]
        assert r["keras"]["calls"] == calls[r["batch"]]
        assert r["saved_model"]["p50_ms"] <= r["saved_model"]["p99_ms"]
        assert r["ratio_p50"] > 0
        assert r["max_abs_difference"] < 1e-4  # the same computation

    out = os.path.join(tiny["root"], "tflite", "float32")
    # The task preprocessor's own image converter and text packer.
    image_pre, text_pre = preprocessor.image_converter, preprocessor.text_packer
    export_tflite(model, out, "float32", image_pre, text_pre)
    images = preprocessor.preprocess_images(tf.constant(tiny["image_bytes"]))
    images = np.asarray(images, np.float32)
    text = preprocessor.preprocess_text(tf.constant(TEXTS))
    lite = tflite_rows(
        {"float32": out},
        model,
        images,
        np.asarray(text["token_ids"], np.int32),
        np.asarray(text["padding_mask"], np.int32),
        [1, 3],
        calls,
        warmup=1,
        log=lambda *args, **kwargs: None,
    )
    assert {(r["model"], r["batch"]) for r in lite} == {
        (m, b) for m in ("image_encoder", "text_encoder") for b in (1, 3)
    }
    for r in lite:
        assert r["tflite"]["calls"] == calls[r["batch"]]
        if r["batch"] == 1:
            assert r["batching"] == "batch 1"
        else:  # resized or not, checked against single calls
            assert r["batch_check"]["compared_with"] == "3 batch-1 calls"
    lines = markdown_tables({"saved_model_rows": rows, "tflite_rows": lite})
    assert lines[0].startswith("| signature | batch | SavedModel p50 / p99 ms")
    assert len(lines) == 2 + len(rows) + 3 + len(lite)
