"""Vision-language LMs: an image prefix into each KerasHub causal-LM family."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tests.language_models import (
    FAMILIES,
    build_language_model,
    learn_gpt2_bpe,
    llama_sentencepiece,
)
from tests.test_case import (
    run_backbone_test,
    run_preprocessor_test,
    run_preset_test,
    run_task_test,
)
from vlpk.data import ImagePreprocessor
from vlpk.encoders import ImageEncoder, small_cnn
from vlpk.layers.mlp_connector import MLPConnector
from vlpk.layers.resampler import Resampler
from vlpk.losses import AnswerLoss
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone, VisionLMPreprocessor

IMAGE_SIZE = 8
B, T, PROMPT = 2, 7, 3


def image_encoder():
    # 16 image tokens of width 4: the prefix is short, the test fast.
    return ImageEncoder(small_cnn(IMAGE_SIZE, widths=(4,)), output="tokens")


def backbone(family="llama", attention="causal", connector=None, **lm_kwargs):
    keras.utils.set_random_seed(0)
    lm = build_language_model(family, **lm_kwargs)
    return VisionLMBackbone(
        image_encoder(), lm, connector=connector, attention=attention
    )


def model_inputs(vocabulary_size=40, prompt=PROMPT):
    rng = np.random.default_rng(0)
    response = np.zeros((B, T), "int32")
    response[:, prompt:] = 1
    return {
        "images": rng.uniform(0, 255, (B, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32"),
        "token_ids": rng.integers(1, vocabulary_size, (B, T)).astype("int32"),
        "padding_mask": np.ones((B, T), "int32"),
        "response_mask": response,
    }


def logits(model, inputs):
    task = VisionCausalLM(model)
    return ops.convert_to_numpy(task(inputs))


@pytest.mark.parametrize("attention", ["causal", "prefix"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_cached_decoding_equals_one_full_pass(family, attention):
    """Seed the cache with image + prompt, feed the rest one token at a time:
    every step's logits equal the full pass's at that position."""
    model = backbone(family, attention)
    inputs = model_inputs()
    full = logits(model, inputs)
    decoder = model.decoder
    image_tokens = model.get_image_tokens(inputs["images"])
    prefix = image_tokens.shape[1]
    prompt_mask = np.zeros((B, T), "int32")
    prompt_mask[:, :PROMPT] = 1
    seed = inputs["token_ids"] * prompt_mask
    _, cache = decoder.build_cache(image_tokens, seed, prompt_mask)
    for i in range(PROMPT, T):
        step, _, cache = decoder.call_with_cache(
            inputs["token_ids"][:, i - 1 : i], cache, prefix + i - 1
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(step)[:, 0], full[:, i - 1], atol=2e-5
        )
    # The attention switch reaches this family's layers: in a prefix-LM a
    # prompt token sees the prompt tokens after it; in a causal LM it doesn't.
    changed = dict(inputs, token_ids=inputs["token_ids"].copy())
    changed["token_ids"][:, PROMPT - 1] = (changed["token_ids"][:, PROMPT - 1] % 39) + 1
    moved = np.abs(logits(model, changed)[:, 0] - full[:, 0]).max()
    assert (moved > 1e-4) == (attention == "prefix"), moved


@pytest.mark.parametrize(
    "family, attention, sampler",
    [
        ("llama", "prefix", "greedy"),
        ("llama", "prefix", "beam"),
        ("gpt2", "causal", "beam"),
    ],
)
def test_batched_generation_equals_one_by_one(family, attention, sampler):
    """Prompts of different lengths in one batch: each row generates what it
    generates alone, with the greedy and the beam sampler."""
    model = backbone(family, attention)
    task = VisionCausalLM(model)
    task.compile(
        sampler=keras_hub.samplers.get(sampler)
        if sampler == "greedy"
        else keras_hub.samplers.BeamSampler(num_beams=2)
    )
    rng = np.random.default_rng(1)
    lengths, length = [3, 5, 4], 12
    ids = np.zeros((3, length), "int32")
    mask = np.zeros((3, length), "int32")
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, 40, n)
        mask[row, :n] = 1
    images = rng.uniform(0, 255, (3, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")

    def generate(rows):
        inputs = {
            "images": images[rows],
            "token_ids": ids[rows],
            "padding_mask": mask[rows],
            "response_mask": np.zeros_like(mask[rows]),
        }
        return task.generate(inputs, stop_token_ids=None)["token_ids"]

    together = generate(slice(None))
    for row in range(3):
        np.testing.assert_array_equal(together[row], generate(slice(row, row + 1))[0])
    # Generation did happen after each prompt.
    assert (together[:, max(lengths) :] != 0).any()


def test_resampler_gives_a_fixed_prefix():
    connector = Resampler(4, output_dim=16, num_heads=2)
    model = backbone("gpt2", connector=connector)
    assert model.get_image_tokens(model_inputs()["images"]).shape == (B, 4, 16)
    assert logits(model, model_inputs()).shape == (B, T, 40)


def test_backbone_standard_checks(tmp_path):
    keras.utils.set_random_seed(0)
    run_backbone_test(
        VisionLMBackbone,
        {
            "image_encoder": image_encoder(),
            "language_model": build_language_model("gpt2"),
            "connector": MLPConnector(16, depth=2),
            "attention": "prefix",
        },
        model_inputs(),
        expected_output_shape=(B, T, 16),
        tmp_path=tmp_path,
    )


def test_refuses_a_text_encoder_and_pooled_images():
    bert = keras_hub.models.BertBackbone(
        vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16
    )
    with pytest.raises(ValueError, match="causal LM"):
        VisionLMBackbone(image_encoder(), bert)
    pooled = ImageEncoder(small_cnn(IMAGE_SIZE, widths=(4,)), output="pooled")
    with pytest.raises(ValueError, match="output='tokens'"):
        VisionLMBackbone(pooled, build_language_model("gpt2"))


# --- Preprocessing and the loss mask ---------------------------------------------


@pytest.fixture(scope="module")
def llama_tokenizer():
    # SentencePiece: the fast tokenizer in `tf.data` (GPT-2's byte-level BPE
    # runs a loop per word), for the checks that map over datasets.
    return keras_hub.models.LlamaTokenizer(proto=llama_sentencepiece())


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    vocabulary, merges = learn_gpt2_bpe()
    return keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)


def preprocessor(tokenizer, sequence_length=12):
    return VisionLMPreprocessor(
        tokenizer, ImagePreprocessor(IMAGE_SIZE), sequence_length
    )


def raw_examples(count=4):
    rng = np.random.default_rng(0)
    prompts = ["what shape is in the image?", "is there a circle?", "describe.", ""]
    answers = ["a red circle.", "no.", "a small green square left of it.", "yes."]
    return {
        "images": rng.integers(0, 256, (count, 12, 10, 3)).astype("uint8"),
        "prompts": np.array(prompts[:count]),
        "responses": np.array(answers[:count]),
    }


def test_preprocessor_standard_checks(llama_tokenizer):
    run_preprocessor_test(
        VisionLMPreprocessor,
        {
            "tokenizer": llama_tokenizer,
            "image_converter": ImagePreprocessor(IMAGE_SIZE),
            "sequence_length": 12,
        },
        raw_examples(),
    )


def test_seeding_after_the_tokenizer_is_made_leaves_tf_data_working():
    """`set_random_seed` clears TF's eager kernels, SentencePiece's with them."""
    tokenizer = keras_hub.models.LlamaTokenizer(proto=llama_sentencepiece())
    layer = preprocessor(tokenizer)
    keras.utils.set_random_seed(0)
    dataset = tf.data.Dataset.from_tensor_slices(raw_examples()).batch(2).map(layer)
    batches = list(dataset)
    assert len(batches) == 2 and batches[0][0]["token_ids"].shape == (2, 12)


def test_only_the_answer_and_its_end_token_are_targets(gpt2_tokenizer):
    layer = preprocessor(gpt2_tokenizer, sequence_length=24)
    x, y, weight = layer(raw_examples())
    ids, weight = x["token_ids"].numpy(), weight.numpy()
    end = gpt2_tokenizer.end_token_id
    for row, answer in enumerate(raw_examples()["responses"]):
        targets = y.numpy()[row][weight[row] == 1].tolist()
        # Exactly the answer's tokens and the end token: no prompt token.
        expected = np.asarray(gpt2_tokenizer(answer)).tolist() + [end]
        assert targets == expected, (row, targets, expected)
        # The inputs mark the same tokens (the last one may fall off the end).
        marked = ids[row][x["response_mask"].numpy()[row] == 1].tolist()
        assert marked == expected[: len(marked)] and len(marked) >= len(expected) - 1
    assert (ids[:, 0] == gpt2_tokenizer.start_token_id).all()


def test_a_long_prompt_is_cut_from_its_start_never_the_answer(gpt2_tokenizer):
    layer = preprocessor(gpt2_tokenizer, sequence_length=12)
    long_prompt = " ".join(["what shape is in the image?"] * 20)
    x, y, weight = layer(
        {
            "images": np.zeros((8, 8, 3), "uint8"),
            "prompts": long_prompt,
            "responses": "a red circle.",
        }
    )
    answer = np.asarray(gpt2_tokenizer("a red circle.")).tolist()
    assert y.numpy()[weight.numpy() == 1].tolist() == answer + [
        gpt2_tokenizer.end_token_id
    ]
    # The prompt kept its end (the words just before the answer).
    prompt_ids = np.asarray(gpt2_tokenizer(long_prompt + "\n")).tolist()
    kept = x["token_ids"].numpy()[1 : 12 - len(answer)].tolist()
    assert kept == prompt_ids[-len(kept) :]
    assert x["padding_mask"].numpy().all()


def test_the_loss_never_trains_on_the_prompt(gpt2_tokenizer):
    """Any logits on prompt positions leave the loss and its gradient alone."""
    x, y, weight = preprocessor(gpt2_tokenizer, 24)(raw_examples())
    vocabulary = gpt2_tokenizer.vocabulary_size()
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 24, vocabulary)).astype("float32")
    noise = rng.normal(size=base.shape).astype("float32") * 10
    prompt = (weight.numpy() == 0)[..., None]
    loss = AnswerLoss()
    same = loss(y, base, weight), loss(y, np.where(prompt, base + noise, base), weight)
    np.testing.assert_allclose(*[float(v) for v in same], rtol=1e-6)
    # And it is the mean over answer tokens, not over every position.
    per_token = keras.losses.sparse_categorical_crossentropy(y, base, from_logits=True)
    answer = weight.numpy() == 1
    np.testing.assert_allclose(
        float(same[0]), per_token.numpy()[answer].mean(), rtol=1e-5
    )


def test_a_batch_without_answer_tokens_is_not_a_zero_loss(gpt2_tokenizer):
    """LLaVA's silent failure: every target masked, loss 0, 'training' goes on."""
    x, y, weight = preprocessor(gpt2_tokenizer, 24)(raw_examples())
    logits = np.zeros((4, 24, gpt2_tokenizer.vocabulary_size()), "float32")
    assert np.isnan(float(AnswerLoss()(y, logits, np.zeros_like(weight))))
    with pytest.raises(ValueError, match="train on the prompt"):
        AnswerLoss()(y, logits)
    # Every example the preprocessor makes has answer tokens to train on,
    # even an empty prompt or an answer longer than the budget.
    _, _, weight = preprocessor(gpt2_tokenizer, 6)(raw_examples())
    assert (weight.numpy().sum(axis=1) > 0).all()


# --- The task -------------------------------------------------------------------


@pytest.fixture(scope="module")
def task(llama_tokenizer):
    keras.utils.set_random_seed(0)
    lm = build_language_model("llama", llama_tokenizer.vocabulary_size())
    model = VisionLMBackbone(image_encoder(), lm, attention="prefix")
    return VisionCausalLM(model, preprocessor(llama_tokenizer))


def test_task_standard_checks(task):
    run_task_test(
        VisionCausalLM,
        {"backbone": task.backbone, "preprocessor": task.preprocessor},
        raw_examples(),
        expected_output_shape=(4, 12, task.backbone.vocabulary_size),
    )


def test_generate_on_raw_images_and_prompts(task):
    task.compile(sampler="greedy")
    examples = raw_examples()
    one = task.generate(
        {"images": examples["images"][0], "prompts": "what shape is in the image?"},
        max_length=16,
    )
    assert isinstance(one, str) and one.startswith("what shape is in the image?")
    many = task.generate(
        {"images": examples["images"], "prompts": examples["prompts"]},
        max_length=16,
        strip_prompt=True,
    )
    assert len(many) == 4 and all(isinstance(text, str) for text in many)


def test_preset_round_trip(task, tmp_path):
    task.save_to_preset(str(tmp_path / "preset"))
    run_preset_test(
        VisionCausalLM,
        str(tmp_path / "preset"),
        raw_examples(),
        expected_output=task.predict(raw_examples(), verbose=0),
        tmp_path=tmp_path,
    )
