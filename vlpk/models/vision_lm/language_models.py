"""What differs between KerasHub causal-LM families, behind four functions.

A vision-language LM runs a KerasHub text LM's own layers over a longer
sequence: the image tokens, then the text. Every KerasHub causal-LM backbone
exposes `token_embedding`, `transformer_layers` and `layer_norm`, and its
`CausalLM.call_with_cache` shows how the family runs them. They differ in
four ways, each handled here by looking at the backbone, not its class name,
so that a family with the same parts (a Llama fine-tune, Qwen 2.5) works too:

- **Embedding scale.** Gemma multiplies token embeddings by
  `sqrt(hidden_dim)` (`GemmaBackbone`); the image tokens are not scaled, as
  in `PaliGemmaCausalLM`.
- **Position embeddings.** GPT-2 adds learned positions to the whole
  sequence (image tokens included) from the cache index; the others rotate
  queries and keys inside attention (RoPE) from the same index.
- **Layer arguments.** GPT-2, Llama, Mistral, Qwen and Qwen3 layers take
  `self_attention_cache` / `self_attention_cache_update_index`; Gemma's take
  `cache` / `cache_update_index`.
- **The attention mask.** Each layer builds its mask in a method of its own
  (`_compute_self_attention_mask`, or Gemma's `_compute_attention_mask`)
  and always intersects it with a causal mask. A prefix-LM (PaliGemma's
  "image and prompt see each other") is not causal, so `call_layer` hands
  the layer the mask from `attention_mask` instead, for that call only.

The key/value cache has one layout in all of them:
`[batch, layers, 2, length, key_value_heads, head_dim]`.
"""

import contextlib
import inspect

import keras_hub
from keras import ops

_MASK_METHODS = ("_compute_self_attention_mask", "_compute_attention_mask")


def check_language_model(backbone):
    """Raises a `ValueError` unless `backbone` is a KerasHub causal-LM backbone."""
    parts = ("token_embedding", "transformer_layers", "layer_norm")
    missing = [name for name in parts if not hasattr(backbone, name)]
    if not isinstance(backbone, keras_hub.models.Backbone) or missing:
        raise ValueError(
            "language_model must be the backbone of a KerasHub causal LM "
            "(GPT-2, Gemma, Llama, Mistral, Qwen, Qwen3: e.g. "
            "`keras_hub.models.Backbone.from_preset(...)`), with "
            f"{', '.join(parts)}; got {type(backbone).__name__}"
            + (f", which lacks {', '.join(missing)}." if missing else ".")
        )
    layer = backbone.transformer_layers[0]
    if not any(hasattr(layer, name) for name in _MASK_METHODS):
        raise ValueError(
            f"{type(layer).__name__} does not build its attention mask in one "
            f"of {_MASK_METHODS}, so vlpk cannot give it an image prefix."
        )


def embed(backbone, token_ids, image_tokens=None, start_index=0, training=None):
    """The input sequence `[B, P + T, D]`: image tokens, then embedded text.

    Args:
        backbone: a KerasHub causal-LM backbone.
        token_ids: `[B, T]` int.
        image_tokens: `[B, P, D]` in the LM's width, or None.
        start_index: the position of the first token (the cache index).
    """
    x = backbone.token_embedding(token_ids)
    if isinstance(backbone, keras_hub.models.GemmaBackbone):
        x = x * ops.cast(ops.sqrt(backbone.hidden_dim), x.dtype)
    if image_tokens is not None:
        x = ops.concatenate([ops.cast(image_tokens, x.dtype), x], axis=1)
    if getattr(backbone, "position_embedding", None) is not None:
        positions = backbone.position_embedding(x, start_index=start_index)
        x = backbone.embeddings_add((x, positions))
        x = backbone.embeddings_dropout(x, training=training)
    return x


def attention_mask(key_mask, prefix_lengths, query_length, start_index=0):
    """Which keys each query sees: `[B, query_length, K]` int32.

    Query `i` (at position `start_index + i`) sees key `j` when the key is
    real (`key_mask`) and `j <= start_index + i` (causal) or `j` lies in the
    row's prefix (`j < prefix_lengths`): a prefix of 0 is a causal LM, a
    prefix over the image and the prompt is PaliGemma's prefix-LM.

    Example:
    >>> import numpy as np
    >>> mask = attention_mask(np.ones((1, 3), "int32"), np.array([2], "int32"), 3)
    >>> ops.convert_to_numpy(mask)[0].tolist()
    [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    """
    key_length = ops.shape(key_mask)[1]
    queries = ops.arange(query_length)[:, None] + start_index
    keys = ops.arange(key_length)[None, :]
    causal = ops.expand_dims(keys <= queries, 0)
    prefix = ops.expand_dims(keys, 0) < ops.reshape(prefix_lengths, (-1, 1, 1))
    real = ops.expand_dims(ops.cast(key_mask, "bool"), 1)
    return ops.cast(ops.logical_and(ops.logical_or(causal, prefix), real), "int32")


def call_layer(layer, x, mask, cache=None, cache_update_index=None, training=None):
    """Runs one decoder layer with `mask`; returns `x`, or `(x, cache)`."""
    kwargs = {}
    if cache is not None:
        names = inspect.signature(layer.call).parameters
        prefix = "self_attention_" if "self_attention_cache" in names else ""
        kwargs = {
            f"{prefix}cache": cache,
            f"{prefix}cache_update_index": cache_update_index,
        }
    if "training" in inspect.signature(layer.call).parameters:
        kwargs["training"] = training
    with _given_mask(layer, mask):
        return layer(x, **kwargs)


def cache_shape(backbone, batch_size, length):
    """The shape of a key/value cache for `length` positions."""
    query_heads = getattr(backbone, "num_query_heads", None) or backbone.num_heads
    key_value_heads = getattr(backbone, "num_key_value_heads", None) or query_heads
    head_dim = getattr(backbone, "head_dim", None) or backbone.hidden_dim // query_heads
    layers = len(backbone.transformer_layers)
    return [batch_size, layers, 2, length, key_value_heads, head_dim]


@contextlib.contextmanager
def _given_mask(layer, mask):
    """Makes `layer` use `mask` as its self-attention mask while inside.

    The layer's own method would intersect any mask with a causal one. The
    override is an instance attribute (set with `object.__setattr__`, so
    Keras does not track it) and is removed on the way out, so the layer
    behaves as before outside: a KerasHub `CausalLM` on the same backbone
    still works.
    """
    name = next(n for n in _MASK_METHODS if hasattr(layer, n))
    object.__setattr__(layer, name, lambda *args, **kwargs: mask)
    try:
        yield
    finally:
        object.__delattr__(layer, name)
