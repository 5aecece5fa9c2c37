"""Generation end to end: a tiny decoder memorizes two captions, then every
sampler must read them back."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from vlpk.generation.captioning import decode_captions, generate_captions
from vlpk.layers.caption_decoder import CaptionDecoder, next_token_targets
from vlpk.losses.captioning import CaptioningLoss
from vlpk.text import TextPreprocessor, wordpiece_tokenizer

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "a", "red", "circle", "on", "the", "left", "two", "blue", "square", "##s",
]  # fmt: skip
CAPTIONS = ["a red circle on the left", "two blue squares"]
SEQUENCE_LENGTH = 8
START, END = 2, 3


@pytest.fixture(scope="module")
def tokenizer():
    return wordpiece_tokenizer(VOCABULARY)


@pytest.fixture(scope="module")
def memorized(tokenizer):
    """A decoder trained to caption two image-token tensors, and its data."""
    keras.utils.set_random_seed(0)
    packed = TextPreprocessor(tokenizer, sequence_length=SEQUENCE_LENGTH)(CAPTIONS)
    token_ids = packed["token_ids"].numpy()
    # One caption fills the whole length (no pad); the other is padded and
    # has a WordPiece suffix.
    expected = [[2, 5, 6, 7, 8, 9, 10, 3], [2, 11, 12, 13, 14, 3, 0, 0]]
    assert token_ids.tolist() == expected
    images = np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32")
    decoder = CaptionDecoder(
        vocabulary_size=len(VOCABULARY),
        sequence_length=SEQUENCE_LENGTH,
        num_layers=1,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        dropout=0.0,
    )
    inputs = {
        "token_ids": keras.Input((SEQUENCE_LENGTH,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input(
            (SEQUENCE_LENGTH,), dtype="int32", name="padding_mask"
        ),
        "image_tokens": keras.Input((4, 8), name="image_tokens"),
    }
    model = keras.Model(inputs, decoder(inputs))
    # No XLA: compiling costs more than it saves on 100 tiny CPU steps.
    model.compile(keras.optimizers.Adam(3e-3), loss=CaptioningLoss(), jit_compile=False)
    # 100 steps of the same two examples, as one epoch: cheaper than epochs.
    # (Memorized exactly for seeds 0-5 when this was written.)
    steps = 100
    x = {
        "token_ids": np.tile(token_ids, (steps, 1)),
        "padding_mask": np.tile(packed["padding_mask"].numpy(), (steps, 1)),
        "image_tokens": np.tile(images, (steps, 1, 1)),
    }
    y = np.tile(next_token_targets(token_ids).numpy(), (steps, 1))
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return decoder, images, token_ids


def generate(memorized, **kwargs):
    decoder, images, _ = memorized
    return np.asarray(generate_captions(decoder, images, START, END, **kwargs))


def test_greedy_reproduces_captions(memorized):
    np.testing.assert_array_equal(generate(memorized), memorized[2])


def test_beam_reproduces_captions(memorized):
    out = generate(memorized, sampler="beam", num_beams=3)
    np.testing.assert_array_equal(out, memorized[2])


def test_beam_sampler_instance_returns_all_beams(memorized):
    sampler = keras_hub.samplers.BeamSampler(num_beams=3, return_all_beams=True)
    decoder, images, _ = memorized
    ids, log_probs = generate_captions(decoder, images, START, END, sampler=sampler)
    ids, log_probs = np.asarray(ids), np.asarray(log_probs)
    assert ids.shape == (2, 3, SEQUENCE_LENGTH) and log_probs.shape == (2, 3)
    # Beams come best first; the best is the memorized caption, whose image
    # the beams were kept with.
    np.testing.assert_array_equal(ids[:, 0], memorized[2])
    assert (np.diff(log_probs, axis=1) <= 0).all()


def test_top_k_1_equals_greedy(memorized):
    greedy = generate(memorized)
    np.testing.assert_array_equal(generate(memorized, sampler="top_k", k=1), greedy)


def test_top_k_5_gives_valid_ids():
    # Untrained, so top-k really has five tokens to choose from.
    keras.utils.set_random_seed(1)
    decoder = CaptionDecoder(
        len(VOCABULARY),
        SEQUENCE_LENGTH,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )
    images = np.random.default_rng(1).normal(size=(3, 4, 8)).astype("float32")
    sampler = keras_hub.samplers.TopKSampler(k=5, seed=0)
    out = np.asarray(generate_captions(decoder, images, START, END, sampler=sampler))
    assert out.shape == (3, SEQUENCE_LENGTH) and out.dtype == np.int32
    assert (out[:, 0] == START).all()
    assert ((out >= 0) & (out < len(VOCABULARY))).all()
    # After a caption's end token only pads follow.
    for row in out.tolist():
        if END in row[1:]:
            assert set(row[row.index(END, 1) + 1 :]) <= {0}
    # A shorter max_length is honoured.
    short = generate_captions(
        decoder, images, START, END, max_length=4, sampler=sampler
    )
    assert tuple(short.shape) == (3, 4)


def test_generation_in_tf_function(memorized):
    decoder, images, token_ids = memorized

    @tf.function(input_signature=[tf.TensorSpec((None, 4, 8), "float32")])
    def beam(images):
        return generate_captions(
            decoder, images, START, END, sampler="beam", num_beams=3
        )

    np.testing.assert_array_equal(beam(images).numpy(), token_ids)
    # The batch is dynamic: one image alone gets its own caption.
    np.testing.assert_array_equal(beam(images[1:]).numpy(), token_ids[1:])


def test_random_sampler_by_name_in_tf_function_is_refused(memorized):
    decoder, images, _ = memorized
    traced = tf.function(
        lambda x: generate_captions(decoder, x, START, END, sampler="top_k", k=2)
    )
    with pytest.raises(ValueError, match="Build the sampler outside"):
        traced(images)


def test_bad_arguments(memorized):
    with pytest.raises(ValueError, match="Unknown sampler"):
        generate(memorized, sampler="nucleus")
    with pytest.raises(ValueError, match="max_length"):
        generate(memorized, max_length=SEQUENCE_LENGTH + 1)


def test_decode_captions(memorized, tokenizer):
    assert decode_captions(memorized[2], tokenizer) == CAPTIONS
    ids = [
        [2, 13, 14, 3, 7, 7],  # ends at [SEP]; "##s" joins its word
        [2, 6, 0, 4, 7, 0],  # no end token; [PAD] and [MASK] dropped
        [2, 3, 0, 0, 0, 0],  # empty caption
    ]
    assert decode_captions(tf.constant(ids), tokenizer) == ["squares", "red circle", ""]
