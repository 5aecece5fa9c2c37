"""Caption generation with KerasHub samplers, and decoding ids to strings.

A KerasHub sampler runs the decoding loop: at each step it calls
`next(prompt, cache, index)`, which must return the logits for the token at
`index`, and writes the chosen token there. Two choices make a plain
`CaptionDecoder` fit that interface:

- **The image tokens are the sampler's cache.** The cache is the one loop
  variable a sampler keeps in step with the batch: `BeamSampler` repeats it
  `num_beams` times along the batch axis (`ops.repeat(x, num_beams, axis=0)`,
  so each image's beams sit next to each other, like the prompts) and reorders
  it with the surviving beams at every step. `next` returns it unchanged.
- **No key/value cache.** Each step reruns the decoder over the whole prompt
  and reads the logits at `index - 1`; the causal mask makes the positions
  after it irrelevant. For captions of a few dozen tokens this costs little
  and keeps the decoder a plain layer.

Once a caption has produced its end token, `next` puts all the probability
on the pad token. Finished captions are then padded with 0 whatever the
sampler, and a finished beam keeps its score instead of being ranked by the
junk it would otherwise generate after the end.
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

_SAMPLERS = {
    "greedy": keras_hub.samplers.GreedySampler,
    "beam": keras_hub.samplers.BeamSampler,
    "top_k": keras_hub.samplers.TopKSampler,
    "top_p": keras_hub.samplers.TopPSampler,
    "random": keras_hub.samplers.RandomSampler,
}
# These own a `SeedGenerator`, i.e. a variable.
_RANDOM_SAMPLERS = ("top_k", "top_p", "random")


def get_sampler(sampler="greedy", **sampler_kwargs):
    """A KerasHub sampler from an instance or a name.

    Args:
        sampler: a `keras_hub.samplers.Sampler`, or one of `"greedy"`,
            `"beam"`, `"top_k"`, `"top_p"`, `"random"`.
        **sampler_kwargs: constructor arguments for a sampler given by name
            (`num_beams=3`, `k=5, seed=0`, `temperature=0.7`, ...).

    Example:
    >>> get_sampler("beam", num_beams=3).num_beams
    3
    """
    if isinstance(sampler, keras_hub.samplers.Sampler):
        if sampler_kwargs:
            raise ValueError(
                f"Got a sampler instance and sampler arguments "
                f"{sorted(sampler_kwargs)}: set those on the instance instead."
            )
        return sampler
    if isinstance(sampler, str) and sampler in _SAMPLERS:
        return _SAMPLERS[sampler](**sampler_kwargs)
    raise ValueError(
        f"Unknown sampler {sampler!r}: pass a keras_hub.samplers.Sampler or one "
        f"of {sorted(_SAMPLERS)}."
    )


def generate_captions(
    decoder,
    image_tokens,
    start_token_id,
    end_token_id,
    max_length=None,
    sampler="greedy",
    pad_token_id=0,
    **sampler_kwargs,
):
    """Generates caption token ids for a batch of images.

    Every caption starts as `[start_token_id, 0, 0, ...]`; the sampler fills
    position 1 onwards and stops once every caption has produced
    `end_token_id`. Positions after a caption's end token hold `pad_token_id`.

    It runs eagerly or inside a `tf.function`. Build a random sampler
    (`TopKSampler`, `TopPSampler`, `RandomSampler`) outside the `tf.function`
    and pass the instance: those own a seed variable, which a `tf.function`
    must not create on each trace.

    Args:
        decoder: a built `vlpk.layers.caption_decoder.CaptionDecoder` (or any
            layer with the same inputs and logits).
        image_tokens: `[batch, N, d_img]`, as the decoder was trained on.
        start_token_id: the first token of every caption ([CLS]).
        end_token_id: the token that ends a caption ([SEP]).
        max_length: the length of the returned ids, start token included;
            defaults to `decoder.sequence_length`.
        sampler: a `keras_hub.samplers.Sampler` or a name, see `get_sampler`.
        pad_token_id: the id written after a caption's end.
        **sampler_kwargs: constructor arguments for a sampler given by name.

    Returns:
        int32 token ids `[batch, max_length]` (with
        `BeamSampler(return_all_beams=True)`, the sampler's own
        `(ids [batch, num_beams, max_length], log_probs)` pair).

    Example:
    >>> from vlpk.layers import CaptionDecoder
    >>> decoder = CaptionDecoder(vocabulary_size=8, sequence_length=6,
    ...                          num_layers=1, num_heads=2, hidden_dim=16,
    ...                          intermediate_dim=32)
    >>> image_tokens = np.ones((2, 9, 12), "float32")
    >>> ids = generate_captions(decoder, image_tokens, start_token_id=2,
    ...                         end_token_id=3, sampler="beam", num_beams=3)
    >>> ids.shape, ids[:, 0].numpy().tolist()
    (TensorShape([2, 6]), [2, 2])
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, "a", "red", "circle"])
    >>> captions = decode_captions(ids, tokenizer)  # untrained: any of its words
    >>> len(captions), captions[0] == captions[1]  # the same image, the same caption
    (2, True)
    """
    sampler = _traceable_sampler(sampler, sampler_kwargs)
    max_length = _checked_max_length(decoder, max_length)
    image_tokens = ops.convert_to_tensor(image_tokens)
    prompt, mask = _start_prompts(
        ops.shape(image_tokens)[0], max_length, start_token_id, pad_token_id
    )
    return sampler(
        _next_logits(decoder, max_length, end_token_id, pad_token_id),
        prompt,
        cache=image_tokens,
        index=1,
        mask=mask,
        stop_token_ids=[end_token_id],
        model=decoder,
    )


def _traceable_sampler(sampler, sampler_kwargs):
    """`get_sampler(sampler, **sampler_kwargs)`, refusing to build a random
    sampler by name inside a `tf.function` (see `generate_captions`)."""
    if sampler in _RANDOM_SAMPLERS and tf.inside_function():
        raise ValueError(
            f"sampler={sampler!r} inside a tf.function would create its seed "
            "variable while tracing. Build the sampler outside, e.g. "
            "keras_hub.samplers.TopKSampler(k=5, seed=0), and pass the instance."
        )
    return get_sampler(sampler, **sampler_kwargs)


def _checked_max_length(decoder, max_length):
    """`max_length`, by default the decoder's; raises outside `[2, limit]`."""
    if max_length is None:
        max_length = decoder.sequence_length
    limit = getattr(decoder, "sequence_length", max_length)
    if not 2 <= max_length <= limit:
        raise ValueError(
            f"max_length must be between 2 and the decoder's sequence_length "
            f"({limit}); got {max_length}."
        )
    return max_length


def _start_prompts(batch_size, max_length, start_token_id, pad_token_id):
    """`(prompt, mask)`: `[start, pad, pad, ...]` rows, and where not to sample."""
    prompt = ops.concatenate(
        [
            ops.full((batch_size, 1), start_token_id, dtype="int32"),
            ops.full((batch_size, max_length - 1), pad_token_id, dtype="int32"),
        ],
        axis=1,
    )
    # The start token is given, not sampled: the mask stops the sampler from
    # overwriting it and from counting it as an end token.
    mask = ops.arange(max_length)[None, :] < 1
    mask = ops.broadcast_to(mask, ops.shape(prompt))
    return prompt, mask


def _next_logits(decoder, max_length, end_token_id, pad_token_id):
    """The sampler's `next(prompt, cache, index)`; the cache is the image tokens.

    Each call reruns `decoder` over the whole prompt (no key/value cache) and
    returns the logits for the token at `index`. A caption that has produced
    `end_token_id` gets all its probability on `pad_token_id`.
    """

    def next(prompt, cache, index):
        # All-ones padding mask: the causal mask already hides the not yet
        # generated positions from the logits read at `index - 1`.
        logits = decoder(
            {
                "token_ids": prompt,
                "padding_mask": ops.ones_like(prompt),
                "image_tokens": cache,
            },
            training=False,
        )
        # The logits at `index - 1` predict the token at `index`.
        logits = ops.take(logits, index - 1, axis=1)
        positions = ops.arange(max_length)[None, :]
        generated = (positions >= 1) & (positions < index)
        done = ops.any((prompt == end_token_id) & generated, axis=-1)
        vocabulary = ops.arange(ops.shape(logits)[-1])[None, :]
        pad_only = ops.where(vocabulary == pad_token_id, 0.0, -1e9)
        logits = ops.where(done[:, None], ops.cast(pad_only, logits.dtype), logits)
        return logits, None, cache

    return next


def detokenize_captions(token_ids, tokenizer):
    """Generated ids to strings with TensorFlow ops, inside a traced graph.

    What `decode_captions` does eagerly: everything from each row's first
    end token on goes, then every other special token (the start token
    included), and the rest is detokenized. KerasHub's
    `generate_postprocess` cannot run inside a traced export function, so
    serving signatures use this.

    Args:
        token_ids: int ids `[batch, length]`, as `generate_captions` returns.
        tokenizer: the KerasHub tokenizer (its `end_token_id` and
            `special_token_ids`).

    Returns:
        A `tf.string` tensor `[batch]`.
    """
    ids = tf.cast(token_ids, tf.int32)
    end = tokenizer.end_token_id
    special = tf.constant(sorted(tokenizer.special_token_ids), tf.int32)
    before_end = tf.cumsum(tf.cast(ids == end, tf.int32), axis=1) == 0
    not_special = tf.reduce_all(ids[:, :, None] != special, axis=-1)
    return tokenizer.detokenize(tf.ragged.boolean_mask(ids, before_end & not_special))


def decode_captions(token_ids, tokenizer):
    """Turns generated token ids into caption strings.

    Each row loses its leading start token, everything from its first end
    token on, and any other special token ([PAD], [MASK], ...); the rest is
    detokenized. A KerasHub `BertTokenizer` joins WordPiece `##` pieces to the
    word before them and separates words with single spaces, so
    `[red, circle, ##s]` reads `"red circles"`.

    Args:
        token_ids: int ids `[batch, length]` (tensor or array), as returned by
            `generate_captions`.
        tokenizer: the KerasHub tokenizer the decoder was trained with.

    Returns:
        A list of Python strings, one per row.

    Example:
    >>> from vlpk.text import wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
    ...                                  "[MASK]", "red", "circle", "##s"])
    >>> decode_captions([[2, 5, 6, 7, 3, 0]], tokenizer)
    ['red circles']
    """
    start = getattr(tokenizer, "start_token_id", None)
    end = getattr(tokenizer, "end_token_id", None)
    special = set(tokenizer.special_token_ids)
    rows = np.asarray(keras.ops.convert_to_numpy(token_ids))
    if rows.ndim == 1:
        rows = rows[None, :]
    captions = []
    for row in rows.tolist():
        if row and row[0] == start:
            row = row[1:]
        if end in row:
            row = row[: row.index(end)]
        row = [t for t in row if t not in special]
        captions.append(_to_str(tokenizer.detokenize([row])[0]) if row else "")
    return captions


def _to_str(text):
    # Eagerly KerasHub detokenizes in Python and returns `str`; inside its
    # TensorFlow workflow it returns a string tensor (bytes).
    if hasattr(text, "numpy"):
        text = text.numpy()
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
