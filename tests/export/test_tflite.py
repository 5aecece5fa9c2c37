"""TFLite / LiteRT export: parity with Keras, variants, host tokenizer ids."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.models.conftest import tiny_image_encoder
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.records.example import Example
from vlpk.encoders import bert_encoder
from vlpk.export.tflite import (
    INT8_FLOAT_OPS,
    export_tflite,
    host_text_preprocessor,
    interpreter_runner,
)
from vlpk.layers import CrossAttentionFusion
from vlpk.models import VisionLanguageBackbone
from vlpk.text import (
    TextPreprocessor,
    learn_vocabulary,
    save_vocabulary,
    wordpiece_tokenizer,
)

CAPTIONS = ["a red circle left of a blue square", "two small green triangles"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("tflite")
    vocabulary = learn_vocabulary(CAPTIONS * 4, 60)
    vocab_path = str(root / "vocab.txt")
    save_vocabulary(vocabulary, vocab_path)
    text_pre = TextPreprocessor(wordpiece_tokenizer(vocabulary), 8)
    image_pre = ImagePreprocessor(32)
    model = VisionLanguageBackbone(
        tiny_image_encoder("tokens"),
        bert_encoder(
            len(vocabulary), num_layers=1, hidden_dim=16, max_sequence_length=8
        ),
        fusion=CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16),
        embedding_dim=8,
    )
    rng = np.random.default_rng(0)
    examples = []
    for i in range(12):
        path = str(root / f"{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        examples.append(Example(path, i, (CAPTIONS[i % 2],)))
    return {
        "root": root,
        "model": model,
        "vocab": vocab_path,
        "text_pre": text_pre,
        "image_pre": image_pre,
        "examples": examples,
        "exports": {},
    }


def export(setup, variant):
    """`(folder, manifest)` of the model's `variant` export, made once a module.

    The tests only read an export, so each variant is converted (the slow
    part) once and shared. float32 measures its parity on held-out examples
    (the first five), as `vlpk export --tflite` does on the validation split;
    the others on the calibration examples.
    """
    if variant in setup["exports"]:
        return setup["exports"][variant]
    out = str(setup["root"] / variant)
    manifest = export_tflite(
        setup["model"],
        out,
        variant,
        setup["image_pre"],
        setup["text_pre"],
        setup["vocab"],
        calibration_examples=setup["examples"],
        overwrite=True,
        parity_examples=setup["examples"][:5] if variant == "float32" else (),
    )
    setup["exports"][variant] = out, manifest
    return out, manifest


def keras_inputs(setup, texts):
    raw = tf.constant([open(e.image_path, "rb").read() for e in setup["examples"]])
    images = np.asarray(setup["image_pre"](raw), np.float32)
    text = setup["text_pre"](tf.constant(texts))
    return images, np.asarray(text["token_ids"]), np.asarray(text["padding_mask"])


def cosine(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_float32_matches_keras(setup):
    out, manifest = export(setup, "float32")
    assert set(manifest["models"]) == {
        "image_encoder",
        "text_encoder",
        "matching_image_features",
        "matching_text_features",
        "fusion_scorer",
    }
    assert manifest["parity"]["image_cosine_min"] >= 0.9999
    images, ids, masks = keras_inputs(setup, CAPTIONS + ["unseen words: zebra ünïcode"])
    model = setup["model"]
    image_runner = interpreter_runner(os.path.join(out, "image_encoder.tflite"))
    lite = np.stack(
        [image_runner(images=x[None])["image_embedding"][0] for x in images]
    )
    expected = model.get_image_embeddings(images)
    assert cosine(lite, np.asarray(expected)).min() >= 0.9999
    text_runner = interpreter_runner(os.path.join(out, "text_encoder.tflite"))
    lite = np.stack(
        [
            text_runner(token_ids=i[None], padding_mask=m[None])["text_embedding"][0]
            for i, m in zip(ids, masks)
        ]
    )
    expected = model.get_text_embeddings(ids, masks)
    assert cosine(lite, np.asarray(expected)).min() >= 0.9999

    # The fusion scorer on device scores pairs like the Keras matching head.
    image_tokens = np.asarray(model.get_image_tokens(images[:2]))
    text_tokens = np.asarray(model.get_text_tokens(ids[:2], masks[:2]))
    scorer = interpreter_runner(os.path.join(out, "fusion_scorer.tflite"))
    lite = [
        scorer(image_tokens=a[None], text_tokens=b[None], padding_mask=m[None])["score"]
        for a, b, m in zip(image_tokens, text_tokens, masks[:2])
    ]
    expected = model.match(image_tokens, text_tokens, masks[:2])
    np.testing.assert_allclose(np.ravel(lite), np.asarray(expected), atol=1e-4)


def test_host_tokenizer_gives_the_training_ids(setup):
    out, manifest = export(setup, "float16")
    assert os.path.isfile(os.path.join(out, "vocab.txt"))
    host = host_text_preprocessor(out)
    texts = tf.constant(CAPTIONS + ["", "unseen words: zebra ünïcode", "RED Circle!"])
    for key in ("token_ids", "padding_mask"):
        np.testing.assert_array_equal(host(texts)[key], setup["text_pre"](texts)[key])
    assert manifest["parity"]["text_cosine_min"] >= 0.999
    with open(os.path.join(out, "tflite.json")) as f:
        assert json.load(f)["sequence_length"] == 8


@pytest.mark.parametrize("variant", ["dynamic", "int8"])
def test_quantized_variants_are_smaller_and_run(setup, variant):
    float_out, float_manifest = export(setup, "float32")
    out, manifest = export(setup, variant)
    # (Weights under 1,024 values stay float: the tiny fusion scorer's do.)
    for name in ("image_encoder", "text_encoder"):
        size = manifest["models"][name]["bytes"]
        assert size < float_manifest["models"][name]["bytes"], name
    # int8 leaves the L2 normalization to the host.
    assert manifest["normalized"] is (variant != "int8")
    parity = manifest["parity"]
    assert parity["inputs"] == len(setup["examples"])
    assert parity["examples"] == "calibration"
    for side in ("image", "text"):
        assert -1 <= parity[f"{side}_cosine_min"] <= parity[f"{side}_cosine_mean"] <= 1
    images, _, _ = keras_inputs(setup, CAPTIONS)
    runner = interpreter_runner(os.path.join(out, "image_encoder.tflite"))
    embedding = runner(images=images[:1])["image_embedding"]
    assert embedding.shape == (1, 8) and np.isfinite(embedding).all()


def test_an_existing_export_is_refused(setup):
    export(setup, "dynamic")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_tflite(
            setup["model"],
            str(setup["root"] / "dynamic"),
            "dynamic",
            setup["image_pre"],
            setup["text_pre"],
        )
    with pytest.raises(ValueError, match="int8 needs"):
        export_tflite(
            setup["model"],
            str(setup["root"] / "x"),
            "int8",
            setup["image_pre"],
            setup["text_pre"],
        )


def input_dtypes(path):
    """`{op name: set of its first input's dtypes}` of a `.tflite` file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    tensors = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    dtypes = {}
    for op in interpreter._get_ops_details():
        dtypes.setdefault(op["op_name"], set()).add(tensors[op["inputs"][0]])
    return dtypes


def test_int8_keeps_the_sensitive_ops_float(setup):
    out, manifest = export(setup, "int8")
    assert manifest["float_ops"] == list(INT8_FLOAT_OPS)
    text = input_dtypes(os.path.join(out, "text_encoder.tflite"))
    image = input_dtypes(os.path.join(out, "image_encoder.tflite"))
    # The masked softmax, the attention matmuls and the layer-norm statistics
    # run in float32; the dense layers, convolutions and embedding lookup in
    # int8.
    for op in ("SOFTMAX", "BATCH_MATMUL", "MEAN", "RSQRT", "MUL"):
        assert text[op] == {np.float32}, op
    assert text["FULLY_CONNECTED"] == {np.int8}
    assert text["GATHER"] == {np.int8}
    assert image["CONV_2D"] == {np.int8}
    assert manifest["parity"]["text_cosine_mean"] >= 0.99
    assert manifest["parity"]["image_cosine_mean"] >= 0.99
    assert manifest["bias_corrected"] == ["image_encoder", "text_encoder"]
    # Channel equalization: each group norm behind a convolution first
    # rescales the channels in float (a MUL right after its group reshape),
    # where a plain group norm goes straight to its MEAN.
    from ai_edge_litert.interpreter import Interpreter

    ops = [
        op["op_name"]
        for op in Interpreter(
            model_path=os.path.join(out, "image_encoder.tflite")
        )._get_ops_details()
    ]
    moves = {"DEQUANTIZE", "QUANTIZE", "RESHAPE"}
    after_conv = [
        next(o for o in ops[i + 1 :] if o not in moves)
        for i, op in enumerate(ops)
        if op == "CONV_2D"
    ]
    assert len(after_conv) == 2 and set(after_conv) == {"MUL"}, ops


def test_parity_is_measured_on_held_out_examples(setup):
    _, manifest = export(setup, "float32")
    assert manifest["parity"]["examples"] == "held out"
    assert manifest["parity"]["inputs"] == 5
    assert manifest["parity"]["image_cosine_min"] >= 0.9999
    _, manifest = export(setup, "float16")
    assert manifest["parity"]["examples"] == "calibration"
    assert manifest["parity"]["inputs"] == len(setup["examples"])
