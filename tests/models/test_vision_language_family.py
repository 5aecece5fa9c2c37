"""The ALBEF / CoCa family in KerasHub's layering: backbone, preprocessor, task."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.conftest import (
    SEQUENCE_LENGTH,
    VOCABULARY_SIZE,
    tiny_image_encoder,
    tiny_text_encoder,
)
from tests.test_case import (
    assert_allclose_tree,
    assert_same_data,
    restored_dtype_policy,
    run_backbone_test,
    run_precision_test,
    run_preprocessor_test,
    run_preset_test,
    run_task_test,
)
from vlpk.data import ImagePreprocessor, masked_lm_generator, pretraining_dataset
from vlpk.data.records.example import Example
from vlpk.layers import ConcatFusion, CrossAttentionFusion
from vlpk.layers.caption_decoder import CaptionDecoder
from vlpk.losses import CaptioningLoss, ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.models import (
    ImageTextPretrainer,
    VisionLanguageBackbone,
    VisionLanguagePreprocessor,
)
from vlpk.text import TextPreprocessor, wordpiece_tokenizer

WORDS = ["red", "blue", "green", "circle", "square", "small", "big", "a"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
B, EMBEDDING_DIM = 4, 8
ALL = ("contrastive", "matching", "masked_lm", "captioning")
# The logits layers and outputs that compute in float32 on purpose.
LOGITS = ("logit", "logits", "matching_logits", "caption_logits")
# Each family member: its backbone's parts and the objectives it trains.
KINDS = {
    "albef": ("cross_attention", None, ("contrastive", "matching", "masked_lm")),
    "concat": ("concat", None, ("contrastive", "matching")),
    "coca": (None, "decoder", ("contrastive", "captioning")),
}


def parts(fusion=None, decoder=None):
    """Fresh tiny encoders, fusion layer and decoder, as constructor kwargs."""
    kwargs = {
        "image_encoder": tiny_image_encoder("tokens"),
        "text_encoder": tiny_text_encoder(),
        "embedding_dim": EMBEDDING_DIM,
    }
    if fusion == "cross_attention":
        kwargs["fusion"] = CrossAttentionFusion(1, 2, 32, dropout=0.0)
    if fusion == "concat":
        kwargs["fusion"] = ConcatFusion((16,))
    if decoder:
        # The tokenizer's vocabulary: `generate` detokenizes what it samples.
        size = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)
        kwargs["caption_decoder"] = CaptionDecoder(
            len(VOCABULARY), SEQUENCE_LENGTH, dropout=0.0, **size
        )
    return kwargs


def tiny_preprocessor(objectives=ALL, rate=0.0):
    # Rate 0 masks nothing, so the outputs are deterministic and a direct
    # call can be compared with tf.data; `test_preprocessor_targets_*` masks.
    return VisionLanguagePreprocessor(
        wordpiece_tokenizer(VOCABULARY),
        ImagePreprocessor(32),
        sequence_length=SEQUENCE_LENGTH,
        objectives=objectives,
        mask_selection_rate=rate,
    )


def raw_pairs(count=B, seed=0):
    """PNG bytes (lossless, so their pixels are known), captions, image ids."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    images = [tf.io.encode_png(p).numpy() for p in pixels]
    text = [" ".join(rng.choice(WORDS, 3)) for _ in range(count)]
    x = {
        "images": np.array(images, dtype=object),
        "text": np.array(text),
        "image_id": np.arange(count) % 3,  # rows 0 and 3: one image's ids
    }
    return x, pixels


@pytest.fixture(scope="module")
def backbones():
    """One backbone per family member, built once for the module."""
    keras.utils.set_random_seed(0)
    return {
        kind: VisionLanguageBackbone(**parts(fusion, decoder))
        for kind, (fusion, decoder, _) in KINDS.items()
    }


@pytest.fixture(scope="module")
def inputs():
    x, _ = raw_pairs()
    model_x, _ = tiny_preprocessor(("contrastive",))(x)
    return {k: np.asarray(v) for k, v in model_x.items()}


# --- backbone ---------------------------------------------------------------


def test_backbone_contract(inputs, tmp_path):
    # Fusion and decoder together: every output and layer of the backbone.
    run_backbone_test(
        VisionLanguageBackbone,
        parts("cross_attention", "decoder"),
        inputs,
        expected_output_shape={
            "image_embedding": (B, EMBEDDING_DIM),
            "text_embedding": (B, EMBEDDING_DIM),
            "contrastive": (B, 2 * EMBEDDING_DIM + 1),
            "image_tokens": (B, 64, 16),
            "text_tokens": (B, SEQUENCE_LENGTH, 16),
            "matching_logits": (B,),
            "caption_logits": (B, SEQUENCE_LENGTH, len(VOCABULARY)),
        },
        # The logits heads compute in float32 on purpose.
        float32_names=LOGITS,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("kind", ["albef", "concat", "coca"])
def test_backbone_methods_equal_its_outputs(backbones, inputs, kind):
    backbone = backbones[kind]
    outputs = backbone(inputs)
    images, ids, mask = (inputs[k] for k in ("images", "token_ids", "padding_mask"))
    image_tokens = backbone.get_image_tokens(images)
    text_tokens = backbone.get_text_tokens(ids, mask)
    methods = {
        "image_embedding": backbone.get_image_embeddings(images),
        "text_embedding": backbone.get_text_embeddings(ids, mask),
        "image_tokens": image_tokens,
        "text_tokens": text_tokens,
    }
    if backbone.fusion is not None:
        if not backbone.fuses_tokens:  # ConcatFusion reads pooled features
            image_tokens = backbone.get_image_features(images)
            text_tokens = backbone.get_text_features(ids, mask)
        methods["matching_logits"] = backbone.match(image_tokens, text_tokens, mask)
    if backbone.caption_decoder is not None:
        methods["caption_logits"] = backbone.caption_logits(image_tokens, ids, mask)
    assert_allclose_tree(methods, {k: outputs[k] for k in methods})
    # The methods also build graphs.
    symbolic = backbone.get_image_embeddings(keras.Input((32, 32, 3)))
    assert tuple(symbolic.shape) == (None, EMBEDDING_DIM)
    assert backbone.temperature == pytest.approx(0.07, rel=1e-5)
    assert not backbone.has_logit_bias


def test_task_precision(backbones, inputs):
    # Every task output is float32 on purpose: the losses read them.
    x = dict(inputs, image_id=np.arange(B, dtype="int32"))
    x["masked_token_ids"] = x["token_ids"]
    x["mask_positions"] = np.ones((B, 2), "int32")
    run_precision_test(
        ImageTextPretrainer,
        {"backbone": VisionLanguageBackbone(**parts("cross_attention", "decoder"))},
        x,
        # The masked-LM head (with its inner layers) predicts float32 logits.
        float32_names=LOGITS
        + ("masked_lm_head", "intermediate_dense", "intermediate_layer_norm")
        + ALL,
    )


def test_backbone_and_task_mixed_precision(inputs):
    # Under the global policy (the `set_dtype_policy` user path), the losses
    # still get float32 outputs.
    with restored_dtype_policy():
        keras.config.set_dtype_policy("mixed_bfloat16")
        backbone = VisionLanguageBackbone(**parts("cross_attention", "decoder"))
        task = ImageTextPretrainer(backbone, objectives=ALL, compile=False)
    outputs = backbone(inputs)
    assert all(v.dtype == "float32" for v in task.weights if v.dtype != "int64")
    assert backbone.image_projection.compute_dtype == "bfloat16"
    assert outputs["image_embedding"].dtype == "bfloat16"
    assert outputs["matching_logits"].dtype == "float32"
    assert outputs["caption_logits"].dtype == "float32"
    x = dict(inputs, image_id=np.arange(B, dtype="int32"))
    x["masked_token_ids"] = x["token_ids"]
    x["mask_positions"] = np.ones((B, 2), "int32")
    predictions = task(x)
    assert all(v.dtype == "float32" for v in predictions.values())
    loss = ContrastiveLoss()(np.arange(B), predictions["contrastive"])
    assert np.isfinite(float(loss))


def test_backbone_rejects_bad_parts(backbones):
    with pytest.raises(ValueError, match="output='tokens'"):
        VisionLanguageBackbone(tiny_image_encoder("pooled"), tiny_text_encoder())
    with pytest.raises(ValueError, match="no fusion layer"):
        backbones["coca"].fuse(np.ones((1, 4, 16)), np.ones((1, 6, 16)))
    with pytest.raises(ValueError, match="no caption decoder"):
        backbones["albef"].caption_logits(None, None, None)


# --- preprocessor -------------------------------------------------------------


def test_preprocessor_contract():
    x, _ = raw_pairs()
    output = run_preprocessor_test(tiny_preprocessor(), None, x)
    inputs, targets = output
    assert sorted(inputs) == [
        "image_id",
        "images",
        "mask_positions",
        "masked_token_ids",
        "padding_mask",
        "token_ids",
    ]
    assert sorted(targets) == sorted(ALL)
    assert inputs["image_id"].dtype == tf.int32
    np.testing.assert_array_equal(targets["matching"][:, 0], 1.0)


def test_preprocessor_targets_equal_pretraining_dataset(tmp_path):
    # Rate 1 selects every real token: which positions are masked, and so the
    # masked LM targets, are then fixed; only their replacements are random.
    x, pixels = raw_pairs()
    examples = []
    for i, image in enumerate(pixels):
        path = str(tmp_path / f"{i}.png")
        tf.io.write_file(path, tf.io.encode_png(image))
        examples.append(Example(path, int(x["image_id"][i]), (str(x["text"][i]),)))
    tokenizer = wordpiece_tokenizer(VOCABULARY)
    dataset = pretraining_dataset(
        examples,
        ImagePreprocessor(32),
        TextPreprocessor(tokenizer, SEQUENCE_LENGTH),
        objectives=ALL,
        mask_generator=masked_lm_generator(tokenizer, SEQUENCE_LENGTH, rate=1.0),
        batch_size=B,
        shuffle=False,
    )
    expected_x, expected_y = next(iter(dataset))
    preprocessor = VisionLanguagePreprocessor(
        tokenizer,
        ImagePreprocessor(32),
        sequence_length=SEQUENCE_LENGTH,
        objectives=ALL,
        mask_selection_rate=1.0,
    )
    actual_x, actual_y = preprocessor(x)
    assert_same_data(actual_y, expected_y, atol=0, rtol=0)
    masked = {"masked_token_ids"}
    assert_same_data(
        {k: v for k, v in actual_x.items() if k not in masked},
        {k: v for k, v in expected_x.items() if k not in masked},
        atol=0,
        rtol=0,
    )
    # Outside the masked positions the masked text is the text.
    kept = np.asarray(actual_y["masked_lm"]) == 0
    for row, positions in enumerate(np.asarray(actual_x["mask_positions"])):
        unmasked = np.ones(SEQUENCE_LENGTH, bool)
        unmasked[positions[~kept[row]]] = False
        np.testing.assert_array_equal(
            np.asarray(actual_x["masked_token_ids"])[row][unmasked],
            np.asarray(actual_x["token_ids"])[row][unmasked],
        )
    # Unbatched (eagerly: tf.data is checked by the contract test above), the
    # same positions and targets.
    for row in range(B):
        one_x, one_y = preprocessor({k: v[row] for k, v in x.items()})
        np.testing.assert_array_equal(
            one_x["mask_positions"], actual_x["mask_positions"][row]
        )
        np.testing.assert_array_equal(one_y["masked_lm"], actual_y["masked_lm"][row])


def test_preprocessor_rejects_unknown_objectives():
    with pytest.raises(ValueError, match="objectives must include"):
        tiny_preprocessor(("matching",))
    with pytest.raises(ValueError, match="`images`.*`text`"):
        tiny_preprocessor()({"image": raw_pairs()[0]["images"]})


# --- task ---------------------------------------------------------------------


def test_task_contract_on_raw_data(backbones):
    # CoCa here, ALBEF and ConcatFusion below: the preprocessing path is the
    # same for all, and each tf.data trace of it costs seconds (the masking
    # in tf.data is checked by the preprocessor and preset tests).
    objectives = KINDS["coca"][2]
    x, pixels = raw_pairs()
    x["images"] = pixels  # the preprocessor and preset tests decode bytes
    run_task_test(
        ImageTextPretrainer,
        {
            "backbone": backbones["coca"],
            "preprocessor": tiny_preprocessor(objectives),
            "objectives": objectives,
        },
        x,
        expected_output_shape={
            "contrastive": (B, 2 * EMBEDDING_DIM + 1),
            "captioning": (B, SEQUENCE_LENGTH, len(VOCABULARY)),
        },
        batch_size=B,
        # Eager steps: the maths is the graph's, without seconds of tracing.
        compile_kwargs={"run_eagerly": True},
    )


@pytest.mark.parametrize("kind", ["albef", "concat"])
def test_task_contract_on_preprocessed_data(backbones, kind):
    objectives = KINDS[kind][2]
    preprocessed = tiny_preprocessor(objectives, rate=0.5)(raw_pairs()[0])
    shapes = {
        "contrastive": (B, 2 * EMBEDDING_DIM + 1),
        "matching": (B, 3),
        "masked_lm": (B, SEQUENCE_LENGTH, VOCABULARY_SIZE),  # 2 * 0.5 * T slots
    }
    run_task_test(
        ImageTextPretrainer,
        {"backbone": backbones[kind], "objectives": objectives, "seed": 0},
        preprocessed,
        expected_output_shape={k: shapes[k] for k in objectives},
        batch_size=B,
        compile_kwargs={"run_eagerly": True},
    )


def test_task_compile_defaults(backbones):
    task = ImageTextPretrainer(backbones["albef"], objectives=KINDS["albef"][2])
    assert isinstance(task.optimizer, keras.optimizers.AdamW)
    assert isinstance(task.loss["contrastive"], ContrastiveLoss)
    assert isinstance(task.loss["matching"], keras.losses.BinaryCrossentropy)
    assert task.loss["masked_lm"].ignore_class == 0
    coca = ImageTextPretrainer(backbones["coca"])  # the objectives its parts allow
    assert coca.objectives == ("contrastive", "captioning")
    assert isinstance(coca.loss["captioning"], CaptioningLoss)
    weights = coca.get_compile_config()["loss_weights"]
    assert weights == {"contrastive": 1.0, "captioning": 2.0}
    siglip = ImageTextPretrainer(VisionLanguageBackbone(**parts(), initial_bias=-10.0))
    assert isinstance(siglip.loss["contrastive"], SigmoidContrastiveLoss)


def test_task_rejects_objectives_its_parts_cannot_train(backbones):
    with pytest.raises(ValueError, match="fusion layer"):
        ImageTextPretrainer(backbones["coca"], objectives=("contrastive", "matching"))
    with pytest.raises(ValueError, match="CrossAttentionFusion"):
        ImageTextPretrainer(backbones["concat"], objectives=KINDS["albef"][2])
    with pytest.raises(ValueError, match="caption_decoder"):
        ImageTextPretrainer(backbones["albef"], objectives=KINDS["coca"][2])
    with pytest.raises(ValueError, match="same objectives"):
        ImageTextPretrainer(
            backbones["albef"], tiny_preprocessor(), objectives=KINDS["albef"][2]
        )


def test_generate_captions_raw_images(backbones):
    task = ImageTextPretrainer(
        backbones["coca"], tiny_preprocessor(KINDS["coca"][2]), compile=False
    )
    x, pixels = raw_pairs(2)
    captions = task.generate(x["images"])
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)
    assert set(" ".join(captions).split()) <= set(WORDS)
    # Pixels caption like their PNG bytes; one image gives one string.
    assert task.generate({"images": pixels}, max_length=4) == task.generate(
        x["images"], max_length=4
    )
    assert task.generate(x["images"][0]) == captions[0]
    with pytest.raises(ValueError, match="caption_decoder"):
        ImageTextPretrainer(backbones["concat"], compile=False).generate(x["images"])


def test_serving_signatures_embed_score_and_caption_image_bytes(backbones, tmp_path):
    task = ImageTextPretrainer(
        backbones["coca"], tiny_preprocessor(KINDS["coca"][2]), compile=False
    )
    path = str(tmp_path / "saved")
    task.serving_archive().write_out(path, verbose=False)
    served = tf.saved_model.load(path)
    x, _ = raw_pairs(2)
    images, text = tf.constant(list(x["images"])), tf.constant(list(x["text"]))
    captions = served.caption(images)["caption"].numpy()
    assert [c.decode() for c in captions] == task.generate(x["images"])
    model_x, _ = task.preprocessor({"images": x["images"], "text": x["text"]})
    outputs = task.backbone(model_x)
    np.testing.assert_allclose(
        served.embed_image(images)["image_embedding"],
        outputs["image_embedding"],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        served.score(images, text)["score"],
        np.sum(outputs["image_embedding"] * outputs["text_embedding"], axis=-1),
        atol=1e-5,
    )


def test_preset_round_trip_on_raw_bytes(backbones, tmp_path):
    objectives = KINDS["albef"][2]
    task = ImageTextPretrainer(
        backbones["albef"], tiny_preprocessor(objectives), seed=0
    )
    x, _ = raw_pairs()
    preset = str(tmp_path / "albef")
    task.save_to_preset(preset)
    # The masked LM head and the sampler's state are task weights.
    assert os.path.isfile(os.path.join(preset, "task.weights.h5"))
    predictions = run_preset_test(ImageTextPretrainer, preset, x, tmp_path=tmp_path)
    model_x, _ = task.preprocessor(x)
    assert_allclose_tree(predictions, task(model_x))
    revived = ImageTextPretrainer.from_preset(preset, compile=False)
    assert revived.preprocessor.tokenizer.get_vocabulary() == VOCABULARY
    assert revived.preprocessor.objectives == objectives
    assert revived.objectives == objectives and revived.seed == 0
    pairs = {k: model_x[k] for k in ("images", "token_ids", "padding_mask")}
    assert_allclose_tree(
        revived.backbone(pairs)["matching_logits"],
        backbones["albef"](pairs)["matching_logits"],
    )
