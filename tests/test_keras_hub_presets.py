"""The tiny KerasHub CLIP and SigLIP presets load back with KerasHub itself.

These check the fixtures of `tests/keras_hub_presets.py`: that the folders
are real KerasHub presets (KerasHub's own `from_preset` reloads them, and the
reloaded model gives the same outputs), that the learned tokenizers tokenize
the way CLIP's and SigLIP's do, and what the preprocessors and backbones take
and give, which is the API a vlpk wrapper builds on.
"""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.keras_hub_presets import (
    CAPTIONS,
    CLIP_END_TOKEN,
    CLIP_START_TOKEN,
    END_OF_WORD,
    IMAGE_SIZE,
    SEQUENCE_LENGTH,
    learn_clip_bpe,
)


@pytest.fixture(params=["clip", "siglip"])
def preset(request):
    return request.getfixturevalue(f"keras_hub_{request.param}_preset")


def _numpy(tree):
    return keras.tree.map_structure(np.asarray, tree)


def _mapped(layer, data, batch_size):
    """`layer` mapped over a batched `tf.data` pipeline (its TensorFlow path)."""
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(batch_size).map(layer)
    return next(iter(dataset))


# --- CLIP's BPE vocabulary ---------------------------------------------------------


def test_bpe_learner_on_a_textbook_corpus():
    # The corpus of Sennrich et al. (2016), worked by hand: "s t</w>" and
    # "e s" are both seen 9 times, and ties go to the larger pair.
    corpus = ["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3
    vocabulary, merges = learn_clip_bpe(corpus, num_merges=4)
    assert merges == ["s t</w>", "e st</w>", "l o", "w est</w>"]
    tokenizer = keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges)
    ids = np.asarray(tokenizer("newest lower widest")).tolist()
    assert [tokenizer.id_to_token(i) for i in ids] == (
        ["n", "e", "west</w>"] + ["lo", "w", "e", "r</w>"] + ["w", "i", "d", "est</w>"]
    )
    # Learning stops when every word is one token.
    _, merges = learn_clip_bpe(corpus, num_merges=100)
    assert len(merges) == 13


def test_learned_bpe_has_clip_format():
    vocabulary, merges = learn_clip_bpe(CAPTIONS, num_merges=64)
    assert len(merges) == 64
    assert len(vocabulary) == 512 + 64 + 2
    # The end token has the largest id: CLIPBackbone pools text at argmax.
    assert vocabulary[CLIP_END_TOKEN] == len(vocabulary) - 1
    assert vocabulary[CLIP_START_TOKEN] == len(vocabulary) - 2
    for merge in merges:
        left, right = merge.split(" ")
        assert left in vocabulary and right in vocabulary
        assert left + right in vocabulary
        assert END_OF_WORD not in left  # only a word's last symbol ends it
    # The most frequent words became single end-of-word tokens.
    for word in ("a", "square", "circle", "background"):
        assert word + END_OF_WORD in vocabulary


def test_clip_tokenizer_round_trip(keras_hub_clip_preset):
    tokenizer = keras_hub_clip_preset.tokenizer
    caption = "a red square on a white background"
    ids = np.asarray(tokenizer(caption)).tolist()
    tokens = [tokenizer.id_to_token(i) for i in ids]
    # Learned merges make words whole tokens, not characters.
    assert tokens[:3] == ["a</w>", "red</w>", "square</w>"]
    assert len(ids) == len(caption.split())
    # The tokens keep the word boundaries...
    assert "".join(tokens).replace(END_OF_WORD, " ").strip() == caption
    # ...but KerasHub 0.32's CLIP detokenizer drops the spaces between words
    # (in both its eager and its tf.data path), as it does for the real presets.
    assert tokenizer.detokenize(ids) == caption.replace(" ", "")
    unseen = "a purple hexagon"
    assert tokenizer.detokenize(tokenizer(unseen)) == unseen.replace(" ", "")


def test_siglip_tokenizer_round_trip(keras_hub_siglip_preset):
    # A fresh tokenizer from the folder: tf-text's SentencePiece op keeps its
    # model in a TensorFlow resource, which the session fixture's object may
    # have lost to an earlier test's graph by now (seen only in the full run).
    preset = keras_hub_siglip_preset
    tokenizer = type(preset.tokenizer).from_preset(preset.path)
    assert tokenizer.token_to_id("</s>") == tokenizer.end_token_id == 1
    assert tokenizer.pad_token_id == tokenizer.end_token_id
    for caption in CAPTIONS[:3] + ("a purple hexagon",):
        ids = tokenizer(caption)
        assert tokenizer.detokenize(ids) == caption
    caption = CAPTIONS[0]
    assert len(tokenizer(caption)) < len(caption)  # pieces, not characters
    eager = [np.asarray(ids).tolist() for ids in tokenizer(list(CAPTIONS))]
    mapped = _mapped(tokenizer, list(CAPTIONS), len(CAPTIONS))
    assert mapped.to_list() == eager


# --- The preset folders --------------------------------------------------------


def test_preset_folder_reloads_with_keras_hub(preset):
    backbone = keras_hub.models.Backbone.from_preset(preset.path)
    assert type(backbone) is type(preset.backbone)
    preprocessor_cls = type(preset.preprocessor)
    preprocessor = preprocessor_cls.from_preset(preset.path)
    assert type(preprocessor) is preprocessor_cls
    tokenizer = preprocessor_cls.tokenizer_cls.from_preset(preset.path)
    assert tokenizer.vocabulary_size() == preset.tokenizer.vocabulary_size()

    inputs = _numpy(preset.inputs(preprocessor))
    expected = _numpy(preset.inputs())
    for key in expected:
        np.testing.assert_array_equal(inputs[key], expected[key], err_msg=key)
    for a, b in zip(preset.backbone.weights, backbone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)

    model_inputs = {"images": inputs["images"], "token_ids": inputs["token_ids"]}
    outputs = _numpy(backbone(model_inputs))
    reference = _numpy(preset.backbone(model_inputs))
    assert set(outputs) == {"vision_logits", "text_logits"}
    for key in reference:
        np.testing.assert_allclose(outputs[key], reference[key], atol=1e-6)


def test_preprocessor_makes_backbone_inputs(preset):
    batch = len(preset.images)
    inputs = _numpy(preset.inputs())
    assert set(inputs) == {"images", "token_ids", "padding_mask"}
    assert inputs["images"].shape == (batch, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert inputs["images"].dtype == np.float32
    assert inputs["token_ids"].shape == (batch, SEQUENCE_LENGTH)
    assert inputs["token_ids"].dtype == np.int32
    assert inputs["padding_mask"].dtype == bool

    tokenizer = preset.tokenizer
    lengths = inputs["padding_mask"].sum(axis=1)
    rows = np.arange(batch)
    # Every sequence ends with the end token; CLIP's also starts with a start
    # token, SigLIP's has none.
    np.testing.assert_array_equal(
        inputs["token_ids"][rows, lengths - 1], tokenizer.end_token_id
    )
    if isinstance(tokenizer, keras_hub.models.CLIPTokenizer):
        assert (inputs["token_ids"][:, 0] == tokenizer.start_token_id).all()
        assert (inputs["token_ids"].argmax(axis=1) == lengths - 1).all()
    else:
        assert (inputs["token_ids"][:, -1] == tokenizer.end_token_id).all()

    # The same in a tf.data pipeline, the way training feeds it: the
    # tokenizers run their TensorFlow path there (their Python path eagerly),
    # and both must agree, on unseen words too. Called
    # eagerly on uint8 images, Keras 3.15's `Resizing` (inside the image
    # converter) rounds and clips the resized images back to uint8; in tf.data
    # it does not. So uint8 images in tf.data match float32 images eagerly.
    # A fresh preprocessor from the folder (see test_siglip_tokenizer_round_trip).
    preprocessor = type(preset.preprocessor).from_preset(preset.path)
    data = {"images": preset.images, "prompts": list(preset.captions)}
    mapped = _numpy(_mapped(preprocessor, data, batch))
    eager = _numpy(preprocessor({**data, "images": preset.images.astype("float32")}))
    for key in inputs:
        np.testing.assert_allclose(mapped[key], eager[key], atol=1e-5, err_msg=key)


def test_logits_are_scaled_cosine_similarities(preset):
    backbone = preset.backbone
    inputs = preset.inputs()
    images = backbone.get_vision_embeddings(inputs["images"])
    texts = backbone.get_text_embeddings(inputs["token_ids"])
    batch = len(preset.images)
    assert images.shape[0] == texts.shape[0] == batch
    assert images.shape[1] == texts.shape[1]  # one shared embedding space

    def l2_normalize(x):
        x = np.asarray(x)
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    cosine = l2_normalize(texts) @ l2_normalize(images).T
    if isinstance(backbone, keras_hub.models.CLIPBackbone):
        head = backbone.clip_head
        expected = cosine * np.exp(np.asarray(head.logit_scale))
    else:
        head = backbone.siglip_head
        expected = cosine * np.exp(np.asarray(head.logit_scale)) + np.asarray(
            head.logit_bias
        )
    outputs = _numpy(
        backbone({"images": inputs["images"], "token_ids": inputs["token_ids"]})
    )
    np.testing.assert_allclose(outputs["text_logits"], expected, atol=1e-5)
    np.testing.assert_allclose(outputs["vision_logits"], expected.T, atol=1e-5)
