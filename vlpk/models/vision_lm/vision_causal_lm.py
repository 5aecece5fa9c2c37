"""`VisionCausalLM`: an image-conditioned LLM as a KerasHub `CausalLM` task."""

import keras
import keras_hub
from keras import ops
from keras_hub.src.utils.tensor_utils import any_equal

from vlpk.losses.answer import AnswerLoss
from vlpk.models.task import VisionLanguageTask
from vlpk.models.vision_lm.serving import vision_lm_signatures
from vlpk.models.vision_lm.vision_lm_backbone import VisionLMBackbone
from vlpk.models.vision_lm.vision_lm_preprocessor import VisionLMPreprocessor


@keras.saving.register_keras_serializable(package="vlpk")
class VisionCausalLM(VisionLanguageTask):
    """Answers and captions images with a language model (LLaVA, PaliGemma).

    A `VisionLMBackbone` plus the LM's own reversible token embedding as
    the head: the output is next-token logits `[B, T, vocabulary_size]`
    over the text positions. With a `VisionLMPreprocessor`, `fit` takes
    `{"images", "prompts", "responses"}` of raw image bytes (or pixels) and
    strings, and trains on the answer tokens only (`AnswerLoss`).

    `generate({"images", "prompts"})` is KerasHub's `CausalLM.generate`: the
    image and the prompt fill a key/value cache in one pass, then the
    compiled sampler loop (`compile(sampler=...)`: greedy, top-k, top-p,
    beam) adds one token per step from the cache, never re-running the
    whole sequence. Prompts of different lengths in one batch give what
    each gives alone: the longer prompts' own tokens keep the cache the
    first pass computed.

    Args:
        backbone: a `VisionLMBackbone`.
        preprocessor: a `VisionLMPreprocessor`, or None.

    Example:
    >>> import numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, small_cnn
    >>> keras.utils.set_random_seed(0)
    >>> symbols = [*"acdehilorstw?ĠĊ", "re", "red", "<|endoftext|>"]  # Ġ: a space
    >>> tokenizer = keras_hub.models.GPT2Tokenizer(  # GPT-2's byte-level BPE
    ...     {s: i for i, s in enumerate(symbols)}, merges=["r e", "re d"])
    >>> gpt2 = keras_hub.models.GPT2Backbone(18, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=64, dropout=0.0)
    >>> lm = VisionCausalLM(
    ...     VisionLMBackbone(ImageEncoder(small_cnn(8, widths=(4,)), output="tokens"),
    ...                      gpt2),
    ...     VisionLMPreprocessor(tokenizer, ImagePreprocessor(8), sequence_length=20))
    >>> lm.compile(keras.optimizers.Adam(0.05), sampler="greedy", run_eagerly=True)
    >>> data = {"images": np.zeros((1, 8, 8, 3), "uint8"),
    ...         "prompts": ["what is it?"], "responses": ["red"]}
    >>> for _ in range(8):  # raw data, as `fit` takes it; eager: quick steps
    ...     _ = lm.train_on_batch(data)
    >>> lm.generate({"images": data["images"][0], "prompts": "what is it?"},
    ...             strip_prompt=True)
    'red'
    """

    backbone_cls = VisionLMBackbone
    preprocessor_cls = VisionLMPreprocessor

    # KerasHub's generation, as its `CausalLM` subclasses have it: batching,
    # the compiled (XLA with `jit_compile=True`) `generate_step`, stop
    # tokens and `strip_prompt`. Taken as functions, because a class cannot
    # derive from both `VisionLanguageTask` and `CausalLM` (two `Task`
    # lines): Keras swaps `Model` for `Functional` in every base, once.
    generate = keras_hub.models.CausalLM.generate
    make_generate_function = keras_hub.models.CausalLM.make_generate_function
    _normalize_generate_inputs = keras_hub.models.CausalLM._normalize_generate_inputs
    _normalize_generate_outputs = keras_hub.models.CausalLM._normalize_generate_outputs

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional model ===
        inputs = backbone.input
        hidden = backbone(inputs)
        logits = backbone.token_embedding(hidden, reverse=True)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        weighted_metrics="auto",
        sampler="greedy",
        **kwargs,
    ):
        """Configures training and generation.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 2e-4, weight decay
                0.0, clipped at norm 1) or any Keras optimizer.
            loss: `"auto"` (`AnswerLoss`) or any loss.
            weighted_metrics: `"auto"` (token accuracy on the answer) or any.
            sampler: a KerasHub sampler or its name, for `generate()`.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(2e-4, weight_decay=0.0, clipnorm=1.0)
        if loss == "auto":
            loss = AnswerLoss()
        if weighted_metrics == "auto":
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy()]
        super().compile(
            optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs
        )
        self.sampler = keras_hub.samplers.get(sampler)
        self.generate_function = None  # rebuilt with the new sampler

    def serving_signatures(self):
        """`generate` (image bytes and prompts to text; `serving_default`)
        and `caption`, all in the graph: see `vision_lm_signatures`."""
        return vision_lm_signatures(self)

    def generate_step(self, inputs, stop_token_ids=None):
        """Generates one batch: `{"images", "token_ids", "padding_mask"}` in.

        XLA-compilable, as KerasHub's: one cached pass over the image and
        the prompts, then the sampler's loop.
        """
        images, token_ids = inputs["images"], inputs["token_ids"]
        # The samplers index with it: bool here (training inputs stay int32,
        # which Mirrored needs).
        padding_mask = ops.cast(inputs["padding_mask"], "bool")
        if len(ops.shape(images)) == 3:
            images = ops.expand_dims(images, 0)
        decoder = self.backbone.decoder
        image_tokens = self.backbone.get_image_tokens(images)
        prefix = ops.shape(image_tokens)[1]
        hidden, cache = decoder.build_cache(image_tokens, token_ids, padding_mask)
        row_lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=-1)
        prompt_ends = row_lengths + prefix

        def next(prompt, cache, index):
            # The cache index of the token before `index`, after the image.
            cache_update_index = index - 1 + prefix
            batch = ops.shape(prompt)[0]
            last = ops.slice(prompt, [0, index - 1], [batch, 1])
            logits, hidden, cache = decoder.call_with_cache(
                last,
                cache,
                cache_update_index,
                keep_cache=cache_update_index < _repeat_like(prompt_ends, batch),
            )
            logits = _force_prompt(
                ops.squeeze(logits, 1), prompt, index, _repeat_like(row_lengths, batch)
            )
            return logits, ops.squeeze(hidden, 1), cache

        token_ids = self.sampler(
            next=next,
            prompt=token_ids,
            cache=cache,
            index=ops.min(row_lengths),
            mask=padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden,
            model=self,
        )
        return {
            "token_ids": token_ids,
            "padding_mask": _output_mask(token_ids, padding_mask, stop_token_ids),
        }


def _repeat_like(values, batch):
    """`values` `[B]` repeated to `batch` rows (a beam sampler's `B * beams`)."""
    repeats = batch // ops.shape(values)[0]
    return ops.repeat(values, repeats, axis=0)


def _force_prompt(logits, prompt, index, row_lengths):
    """Logits that put all the probability on the prompt where it goes on.

    A longer prompt in a batch is still being read when the sampler starts
    at the shortest one's end. KerasHub's samplers keep its tokens, but a
    beam search also scores them and reorders its beams by what it would
    have chosen instead, so the row's answer depends on its neighbours.
    With the prompt token as the only possible choice, every beam keeps its
    score and its place, and each row generates what it would alone.
    """
    in_prompt = ops.expand_dims(index < row_lengths, 1)
    token = ops.take_along_axis(prompt, ops.full_like(prompt[:, :1], index), axis=1)
    forced = ops.arange(ops.shape(logits)[-1])[None, :] == token
    only_token = ops.where(forced, 0.0, float("-inf"))
    return ops.where(in_prompt, ops.cast(only_token, logits.dtype), logits)


def _output_mask(token_ids, padding_mask, stop_token_ids):
    """Real tokens of the output: the prompt, then up to each row's stop token.

    As KerasHub's `CausalLM` subclasses compute it.
    """
    if stop_token_ids is None:
        return ops.ones_like(token_ids, dtype="bool")
    ends = any_equal(token_ids, stop_token_ids, ops.logical_not(padding_mask))
    ends = ops.cast(ends, "int32")
    after = ops.cast(ops.cumsum(ends, axis=-1), "int32") - ends
    return ops.logical_not(ops.cast(after, "bool"))
