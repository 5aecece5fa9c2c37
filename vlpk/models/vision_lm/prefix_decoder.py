"""`ImagePrefixDecoder`: a KerasHub causal LM run over image tokens, then text."""

import keras
from keras import ops

from vlpk.models.vision_lm import language_models

ATTENTION = ("causal", "prefix")


@keras.saving.register_keras_serializable(package="vlpk")
class ImagePrefixDecoder(keras.layers.Layer):
    """Runs a KerasHub causal LM's layers over `[image tokens, text]`.

    It is the one place that knows how a sequence with an image prefix goes
    through the LM: a full pass for training (`call`), and a cached pass for
    generation (`call_with_cache`), as `PaliGemmaCausalLM` does for Gemma.
    Family differences are in `vlpk.models.vision_lm.language_models`.

    The layer does not own the LM: `VisionLMBackbone` does, and builds this
    layer around it, so the LM's weights are saved once.

    Args:
        language_model: a KerasHub causal-LM backbone (`GPT2Backbone`,
            `GemmaBackbone`, `LlamaBackbone`, `MistralBackbone`,
            `QwenBackbone`, `Qwen3Backbone`, ...).
        attention: `"causal"` (LLaVA: every token sees only what comes
            before it) or `"prefix"` (PaliGemma: the image and the prompt,
            everything before the first answer token, see each other; the
            answer is causal).
    """

    def __init__(self, language_model, attention="causal", **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}; got {attention!r}")
        language_models.check_language_model(language_model)
        self.language_model = language_model
        self.attention = attention

    def call(self, image_tokens, token_ids, padding_mask, response_mask, training=None):
        """Hidden states of the text positions `[B, T, D]`, after the final norm.

        Args:
            image_tokens: `[B, P, D]`, already in the LM's width.
            token_ids: `[B, T]` int.
            padding_mask: `[B, T]`, 1 on real tokens.
            response_mask: `[B, T]`, 1 on answer tokens (the prefix of a
                prefix-LM ends at the first one; a row without any is all
                prefix, as a prompt to generate from is).
        """
        backbone = self.language_model
        prefix = ops.shape(image_tokens)[1]
        x = language_models.embed(backbone, token_ids, image_tokens, training=training)
        key_mask = self._key_mask(image_tokens, padding_mask)
        mask = language_models.attention_mask(
            key_mask,
            self.prefix_lengths(prefix, padding_mask, response_mask),
            ops.shape(x)[1],
        )
        for layer in backbone.transformer_layers:
            x = language_models.call_layer(layer, x, mask, training=training)
        return backbone.layer_norm(x)[:, prefix:, :]

    def prefix_lengths(self, prefix, padding_mask, response_mask):
        """`[B]`: how many leading positions see each other (0 if causal)."""
        if self.attention == "causal":
            return ops.zeros_like(padding_mask[:, 0], dtype="int32")
        response = ops.cast(response_mask, "int32") * ops.cast(padding_mask, "int32")
        first = ops.argmax(response, axis=-1)
        prompt = ops.where(
            ops.any(response > 0, axis=-1),
            ops.cast(first, "int32"),
            ops.sum(ops.cast(padding_mask, "int32"), axis=-1),
        )
        return prompt + prefix

    def build_cache(self, image_tokens, token_ids, padding_mask):
        """Seeds a cache with one pass over the image and the prompts.

        Returns:
            `(hidden_states [B, T, D], cache)`, the cache holding
            `P + T` positions, the LM's cache layout.
        """
        batch = ops.shape(token_ids)[0]
        length = ops.shape(image_tokens)[1] + ops.shape(token_ids)[1]
        shape = language_models.cache_shape(self.language_model, batch, length)
        cache = ops.zeros(shape, dtype=self.compute_dtype)
        _, hidden, cache = self.call_with_cache(
            token_ids, cache, 0, image_tokens=image_tokens, padding_mask=padding_mask
        )
        return hidden, cache

    def call_with_cache(
        self,
        token_ids,
        cache,
        cache_update_index,
        image_tokens=None,
        padding_mask=None,
        keep_cache=None,
    ):
        """One cached pass: `(logits, hidden_states, cache)` for `token_ids`.

        Args:
            token_ids: `[B, t]`, the tokens at `cache_update_index` onwards
                (after the image tokens, when those are given).
            cache: the key/value cache of the whole sequence.
            cache_update_index: where `token_ids` (or the image tokens)
                start in the sequence.
            image_tokens: `[B, P, D]` for the seeding pass, else None.
            padding_mask: `[B, t]`, for the seeding pass. Later passes see
                every earlier position: each holds a prompt or a generated
                token.
            keep_cache: `[B]` bool, or None. Rows where it is true keep their
                cache as it was: in a batch of prompts of different lengths,
                the sampler re-feeds the longer prompts' own tokens, whose
                keys and values the seeding pass already computed with the
                mask they trained with (bidirectional in a prefix-LM).
        """
        backbone = self.language_model
        x = language_models.embed(
            backbone, token_ids, image_tokens, start_index=cache_update_index
        )
        length = ops.shape(x)[1]
        if padding_mask is None:
            key_mask = ops.ones(ops.shape(cache)[:1] + ops.shape(cache)[3:4], "int32")
            prefix = ops.zeros(ops.shape(cache)[:1], "int32")
        else:
            key_mask = self._key_mask(image_tokens, padding_mask, ops.shape(cache)[3])
            prefix = self.prefix_lengths(
                0 if image_tokens is None else ops.shape(image_tokens)[1],
                padding_mask,
                ops.zeros_like(padding_mask),
            )
        mask = language_models.attention_mask(
            key_mask, prefix, length, cache_update_index
        )
        caches = []
        for i, layer in enumerate(backbone.transformer_layers):
            x, layer_cache = language_models.call_layer(
                layer, x, mask, cache[:, i, ...], cache_update_index
            )
            if keep_cache is not None:
                layer_cache = _keep_rows(
                    keep_cache,
                    cache[:, i, ...],
                    layer_cache,
                    cache_update_index,
                    length,
                )
            caches.append(layer_cache)
        hidden = backbone.layer_norm(x)
        logits = backbone.token_embedding(hidden, reverse=True)
        if image_tokens is not None:
            hidden = hidden[:, ops.shape(image_tokens)[1] :, :]
            logits = logits[:, ops.shape(image_tokens)[1] :, :]
        return logits, hidden, ops.stack(caches, axis=1)

    def _key_mask(self, image_tokens, padding_mask, length=None):
        """`[B, length]`: 1 on the image tokens and the real text tokens."""
        parts = [ops.cast(padding_mask, "int32")]
        if image_tokens is not None:
            ones = ops.ones(ops.shape(image_tokens)[:2], "int32")
            parts.insert(0, ones)
        mask = ops.concatenate(parts, axis=1)
        if length is not None:  # a cache longer than what is fed
            pad = length - ops.shape(mask)[1]
            mask = ops.pad(mask, [[0, 0], [0, pad]])
        return mask

    def get_config(self):
        # Built by `VisionLMBackbone` around its LM; never serialized alone.
        config = super().get_config()
        config.update({"attention": self.attention})
        return config


def _keep_rows(keep, old, new, index, length):
    """`new` with `old`'s positions `index..index+length` where `keep` is true.

    A cached pass writes only those positions of the `[B, 2, L, H, D]`
    layer cache, so only they are chosen between: a select over the whole
    cache at every generated token cost a quarter of a batch-8 step.
    """
    start = [0, 0, index, 0, 0]
    shape = ops.shape(new)
    size = [shape[0], shape[1], length, shape[3], shape[4]]
    written = ops.where(
        ops.reshape(keep, (-1, 1, 1, 1, 1)),
        ops.slice(old, start, size),
        ops.slice(new, start, size),
    )
    return ops.slice_update(new, start, written)
