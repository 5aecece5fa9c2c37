"""The dual-encoder family in KerasHub's layering: backbone, preprocessor, task."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.conftest import tiny_image_encoder, tiny_text_encoder
from tests.test_case import (
    assert_allclose_tree,
    run_backbone_test,
    run_precision_test,
    run_preprocessor_test,
    run_serialization_test,
    run_task_test,
)
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.losses import ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.models import (
    ContrastivePreprocessor,
    ContrastivePretrainer,
    DualEncoderBackbone,
)
from vlpk.text import wordpiece_tokenizer

WORDS = ["red", "blue", "green", "circle", "square", "small", "big", "a"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


def tiny_backbone(**kwargs):
    return DualEncoderBackbone(
        tiny_image_encoder(), tiny_text_encoder(), embedding_dim=8, **kwargs
    )


def tiny_preprocessor():
    return ContrastivePreprocessor(
        wordpiece_tokenizer(VOCABULARY), ImagePreprocessor(32), sequence_length=6
    )


def raw_pairs(count=4, seed=0):
    """PNG bytes (lossless, so their pixels are known) and captions."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    images = [tf.io.encode_png(p).numpy() for p in pixels]
    text = [" ".join(rng.choice(WORDS, 3)) for _ in range(count)]
    return {"images": np.array(images, dtype=object), "text": np.array(text)}, pixels


# --- backbone -------------------------------------------------------------


def test_backbone_outputs_methods_and_saving(batch, tmp_path):
    backbone = tiny_backbone()
    run_serialization_test(backbone)
    outputs = backbone(batch)
    assert outputs["image_embedding"].shape == (4, 8)
    assert outputs["contrastive"].shape == (4, 17)
    np.testing.assert_allclose(
        np.linalg.norm(outputs["image_embedding"], axis=-1), 1.0, atol=1e-5
    )
    # Inference is methods on the backbone, eager or symbolic.
    assert_allclose_tree(
        backbone.get_image_embeddings(batch["images"]), outputs["image_embedding"]
    )
    text = {k: batch[k] for k in ("token_ids", "padding_mask")}
    assert_allclose_tree(
        backbone.get_text_embeddings(**text), outputs["text_embedding"]
    )
    symbolic = backbone.get_image_embeddings(keras.Input((32, 32, 3)))
    assert tuple(symbolic.shape) == (None, 8)
    path = str(tmp_path / "backbone.keras")
    backbone.save(path)
    revived = keras.saving.load_model(path, safe_mode=True)
    assert_allclose_tree(revived(batch), outputs)
    assert backbone.temperature == pytest.approx(0.07, rel=1e-5)


def test_backbone_rejects_token_image_encoder():
    with pytest.raises(ValueError, match="pooled"):
        DualEncoderBackbone(
            tiny_image_encoder("tokens"), tiny_text_encoder(), embedding_dim=8
        )


def test_standard_checks(batch, tmp_path):
    # The shared helper's backbone, preprocessor and task checks (each also
    # runs the config round trips; the backbone's, the precision check).
    parts = {"image_encoder": tiny_image_encoder(), "text_encoder": tiny_text_encoder()}
    run_backbone_test(
        DualEncoderBackbone,
        {**parts, "embedding_dim": 8},
        batch,
        expected_output_shape={
            "image_embedding": (4, 8),
            "text_embedding": (4, 8),
            "contrastive": (4, 17),
        },
        tmp_path=tmp_path,
    )
    x, _ = raw_pairs(4)
    run_preprocessor_test(tiny_preprocessor(), None, x)
    run_task_test(
        ContrastivePretrainer,
        {"backbone": tiny_backbone(), "preprocessor": tiny_preprocessor()},
        x,
        expected_output_shape={"contrastive": (4, 17)},
        compile_kwargs={"run_eagerly": True},
    )


def test_backbone_and_task_precision(batch):
    # Built with `dtype="mixed_bfloat16"`: every layer computes in bfloat16.
    parts = {"image_encoder": tiny_image_encoder(), "text_encoder": tiny_text_encoder()}
    run_precision_test(DualEncoderBackbone, {**parts, "embedding_dim": 8}, batch)
    run_precision_test(ContrastivePretrainer, {"backbone": tiny_backbone()}, batch)


def test_backbone_mixed_precision(batch):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        backbone = DualEncoderBackbone(
            tiny_image_encoder(), tiny_text_encoder(), embedding_dim=8
        )
    finally:
        keras.config.set_dtype_policy("float32")
    outputs = backbone(batch)
    assert all(v.dtype == "float32" for v in backbone.weights)
    dense = backbone.get_layer("image_projection").projection
    assert dense.compute_dtype == "bfloat16"
    # The packed output stays usable by the float32 loss.
    loss = ContrastiveLoss()(np.arange(4), outputs["contrastive"])
    assert np.isfinite(float(loss))


# --- preprocessor ---------------------------------------------------------


def test_preprocessor_bytes_pixels_batched_unbatched_and_tf_data():
    preprocessor = tiny_preprocessor()
    x, pixels = raw_pairs()
    inputs, targets = preprocessor(x)
    assert inputs["images"].shape == (4, 32, 32, 3)
    assert inputs["token_ids"].dtype == tf.int32
    assert inputs["padding_mask"].dtype == tf.int32  # not bool: see Mirrored
    # PNG bytes and their pixels give the same model inputs.
    from_pixels, _ = preprocessor({"images": pixels, "text": x["text"]})
    np.testing.assert_array_equal(inputs["images"], from_pixels["images"])
    np.testing.assert_array_equal(inputs["token_ids"], from_pixels["token_ids"])
    # The same layer mapped over tf.data, batched and unbatched.
    ds = tf.data.Dataset.from_tensor_slices(x)
    batched = next(iter(ds.batch(4).map(preprocessor)))
    unbatched = list(ds.map(preprocessor))
    assert_allclose_tree(batched, (inputs, targets), atol=0, rtol=0)
    for i, (one_x, one_y) in enumerate(unbatched):
        np.testing.assert_array_equal(one_x["images"], inputs["images"][i])
        np.testing.assert_array_equal(one_x["token_ids"], inputs["token_ids"][i])
        assert int(one_y["contrastive"]) == int(targets["contrastive"][i])


def test_preprocessor_image_ids_from_y_image_id_or_the_image():
    preprocessor = tiny_preprocessor()
    x, _ = raw_pairs(3)
    # Two captions of one image: the same bytes, so the same id.
    x["images"][2] = x["images"][0]
    _, y = preprocessor(x)
    ids = y["contrastive"].numpy()
    assert ids[0] == ids[2] and len(set(ids)) == 2
    _, y = preprocessor({**x, "image_id": np.array([7, 8, 7])})
    assert y["contrastive"].numpy().tolist() == [7, 8, 7]
    _, y = preprocessor(x, y=np.array([1, 2, 3]))
    assert y["contrastive"].numpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="`images`.*`text`"):
        preprocessor({"image": x["images"]})


def test_preprocessor_config_round_trip():
    # The vocabulary is a tokenizer asset, not config (as in KerasHub): the
    # preset test below checks the outputs of a reloaded preprocessor.
    revived = run_serialization_test(tiny_preprocessor())
    assert revived.image_converter.image_size == (32, 32)
    assert revived.sequence_length == 6


# --- task -------------------------------------------------------------------


def test_task_compile_defaults():
    task = ContrastivePretrainer(tiny_backbone(), tiny_preprocessor())
    assert isinstance(task.loss["contrastive"], ContrastiveLoss)
    assert isinstance(task.optimizer, keras.optimizers.AdamW)
    siglip = ContrastivePretrainer(tiny_backbone(initial_bias=-10.0))
    assert isinstance(siglip.loss["contrastive"], SigmoidContrastiveLoss)


def test_task_fits_raw_data_and_round_trips_its_preset(tmp_path):
    keras.utils.set_random_seed(0)
    task = ContrastivePretrainer(tiny_backbone(), tiny_preprocessor())
    # Eager steps: the maths is the graph's, without seconds of tracing.
    task.compile(run_eagerly=True)
    x, _ = raw_pairs(8)
    # Raw bytes and strings straight into `fit` (the loss going down is
    # tested in test_dual_encoder.py).
    history = task.fit(x, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    predictions = task.predict(x, batch_size=4, verbose=0)
    assert predictions["contrastive"].shape == (8, 17)

    preset = str(tmp_path / "preset")
    task.save_to_preset(preset)
    for name in (
        "config.json",
        "metadata.json",
        "model.weights.h5",
        "preprocessor.json",
        "task.json",
        "tokenizer.json",
    ):
        assert os.path.isfile(os.path.join(preset, name)), name
    revived = ContrastivePretrainer.from_preset(preset)
    # It carries its tokenizer and image converter: raw bytes in, the same
    # predictions out.
    assert revived.preprocessor.image_converter.image_size == (32, 32)
    assert revived.preprocessor.tokenizer.get_vocabulary() == VOCABULARY
    np.testing.assert_allclose(
        revived.predict(x, batch_size=4, verbose=0)["contrastive"],
        predictions["contrastive"],
        atol=1e-6,
    )
    backbone = DualEncoderBackbone.from_preset(preset)
    inputs, _ = task.preprocessor(x)
    assert_allclose_tree(backbone(inputs)["contrastive"], predictions["contrastive"])
    preprocessor = ContrastivePreprocessor.from_preset(preset)
    assert_allclose_tree(preprocessor(x), task.preprocessor(x), atol=0, rtol=0)


def test_task_without_preprocessor_takes_model_inputs(batch):
    task = ContrastivePretrainer(tiny_backbone())
    # Eager steps: the maths is the graph's, without seconds of tracing.
    task.compile(run_eagerly=True)
    y = {"contrastive": np.arange(4)}
    task.fit(batch, y, batch_size=4, epochs=1, verbose=0)
    assert task.predict(batch, verbose=0)["contrastive"].shape == (4, 17)
