"""Raw images, prompts and answers in; `VisionLMBackbone` inputs and targets out."""

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.models.vision_lm.vision_lm_backbone import VisionLMBackbone
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class VisionLMPreprocessor(keras_hub.models.CausalLMPreprocessor):
    """Packs `[start] prompt answer [end]` and weighs the loss on the answer.

    Inputs are a dict: `images` (image bytes, or pixels 0–255), `prompts`
    and, for training, `responses` (strings; scalars or `[batch]`). The
    output is `(x, y, sample_weight)`:

    - `x`: `images` (float pixels), `token_ids`, `padding_mask` and
      `response_mask` `[B, sequence_length]` (int32);
    - `y`: the next token at each position;
    - `sample_weight`: 1 where that next token is part of the answer (its
      end token included), 0 on the prompt and the padding. The loss never
      trains on the prompt.

    A prompt that does not fit is cut from its start, so the answer and the
    words just before it stay; an answer longer than the whole budget keeps
    its beginning. The image tokens are not counted: they come before the
    text in the model, not in `token_ids`.

    `generate_preprocess` packs `[start] prompt` for `VisionCausalLM.
    generate`, and `generate_postprocess` turns ids back into strings, as
    KerasHub's `CausalLMPreprocessor` does. It works inside `tf.data` and
    the serving graph alike.

    Args:
        tokenizer: the language model's KerasHub tokenizer (`GPT2Tokenizer`,
            `LlamaTokenizer`, ...), with start, end and pad tokens.
        image_converter: a `vlpk.data.ImagePreprocessor`; None makes a
            64 x 64 one.
        sequence_length: the packed text length.
        add_start_token: put the tokenizer's start token first.
        add_end_token: end each answer with the tokenizer's end token, so
            the model learns to stop.
        prompt_template: how a prompt is written before its answer, with
            `{prompt}` where the prompt goes: the chat template, applied in
            training, generation and serving alike. The default ends the
            prompt with a newline, as PaliGemma does.
    """

    backbone_cls = VisionLMBackbone

    def __init__(
        self,
        tokenizer,
        image_converter=None,
        sequence_length=64,
        add_start_token=True,
        add_end_token=True,
        prompt_template="{prompt}\n",
        **kwargs,
    ):
        if prompt_template.count("{prompt}") != 1:
            raise ValueError(
                "prompt_template must hold `{prompt}` once, where the prompt "
                f"goes; got {prompt_template!r}"
            )
        super().__init__(
            tokenizer=tokenizer,
            sequence_length=sequence_length,
            add_start_token=add_start_token,
            add_end_token=add_end_token,
            **kwargs,
        )
        self.image_converter = image_converter or ImagePreprocessor(64)
        self.prompt_template = prompt_template

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        sequence_length = sequence_length or self.sequence_length
        _check_inputs(x, ("images", "prompts", "responses"))
        prompts, responses = _strings(x["prompts"]), _strings(x["responses"])
        batched = prompts.shape.rank == 1
        packed = self._pack(prompts, responses, sequence_length + 1)
        token_ids, padding_mask, response_mask = packed
        # The target at position i is token i + 1; it is trained on when
        # that token belongs to the answer.
        text = {
            "token_ids": token_ids[..., :-1],
            "padding_mask": padding_mask[..., :-1],
            "response_mask": response_mask[..., :-1],
        }
        y, sample_weight = token_ids[..., 1:], response_mask[..., 1:]
        if not batched:
            text, y, sample_weight = tf.nest.map_structure(
                lambda t: t[0], (text, y, sample_weight)
            )
        inputs = {"images": self.image_converter.pixels(x["images"]), **text}
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    @preprocessing_function
    def generate_preprocess(self, x, sequence_length=None):
        """`{"images", "prompts"}` to the inputs `generate_step` takes."""
        sequence_length = sequence_length or self.sequence_length
        _check_inputs(x, ("images", "prompts"))
        prompts = _strings(x["prompts"])
        batched = prompts.shape.rank == 1
        token_ids, padding_mask, response_mask = self._pack(
            prompts, None, sequence_length
        )
        outputs = {
            "images": self.image_converter.pixels(x["images"]),
            "token_ids": token_ids,
            "padding_mask": padding_mask,
            "response_mask": response_mask,
        }
        if not batched:
            for name in ("token_ids", "padding_mask", "response_mask"):
                outputs[name] = outputs[name][0]
        return outputs

    def _pack(self, prompts, responses, length):
        """`(token_ids, padding_mask, response_mask)`, each `[B, length]`."""
        before, after = self.prompt_template.split("{prompt}")
        prompts = tf.reshape(prompts, [-1])
        prompts = self._tokenize(tf.strings.join([before, prompts, after]))
        start = int(self.add_start_token)
        end = int(self.add_end_token and responses is not None)
        budget = length - start - end
        if responses is None:
            responses = tf.RaggedTensor.from_row_lengths(
                tf.zeros([0], "int32"), tf.zeros_like(prompts.row_lengths())
            )
        else:
            responses = self._tokenize(responses)[:, :budget]
        prompts = keep_last(prompts, budget - responses.row_lengths())
        batch = prompts.nrows()
        starts = tf.fill([batch, start], self.tokenizer.start_token_id)
        ends = tf.fill([batch, end], self.tokenizer.end_token_id)
        ids = tf.concat([starts, prompts, responses, ends], axis=1)
        answer = tf.concat(
            [
                tf.zeros_like(starts),
                tf.zeros_like(prompts, "int32"),
                tf.ones_like(responses, "int32"),
                tf.ones_like(ends),
            ],
            axis=1,
        )
        shape = [None, length]
        token_ids = ids.to_tensor(self.tokenizer.pad_token_id, shape=shape)
        padding_mask = tf.ones_like(ids, "int32").to_tensor(0, shape=shape)
        response_mask = tf.cast(answer, "int32").to_tensor(0, shape=shape)
        return token_ids, padding_mask, response_mask

    def _tokenize(self, strings):
        """Ragged int32 ids `[B, None]`.

        As in KerasHub's preprocessors: the tokenizer's TensorFlow path in
        `tf.data` and the serving graph, its pure-Python path eagerly (which
        returns lists).
        """
        if tf.inside_function():
            _make_tf_tokenizer_eagerly(self.tokenizer)
        ids = self.tokenizer(tf.reshape(strings, [-1]))
        if isinstance(ids, tf.RaggedTensor):
            return tf.cast(ids, "int32")
        if tf.is_tensor(ids):
            return tf.RaggedTensor.from_tensor(tf.cast(ids, "int32"))
        rows = [list(row) for row in ids]
        return tf.RaggedTensor.from_row_lengths(
            tf.constant([i for row in rows for i in row], "int32"),
            [len(row) for row in rows],
        )

    def get_config(self):
        config = super().get_config()
        config["image_converter"] = keras.layers.serialize(self.image_converter)
        config["prompt_template"] = self.prompt_template
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("tokenizer", "image_converter")))


def keep_last(tokens, counts):
    """The last `counts[i]` tokens of each row of a ragged `tokens` (all if fewer).

    Example:
    >>> keep_last(tf.ragged.constant([[1, 2, 3], [4]]), tf.constant([2, 2]))
    <tf.RaggedTensor [[2, 3], [4]]>
    """
    lengths = tokens.row_lengths()
    drop = tf.maximum(lengths - tf.cast(tf.maximum(counts, 0), lengths.dtype), 0)
    positions = tf.ragged.range(lengths)
    return tf.ragged.boolean_mask(tokens, positions >= tf.expand_dims(drop, 1))


def _make_tf_tokenizer_eagerly(tokenizer):
    """Makes a SentencePiece tokenizer's TensorFlow op, outside any graph,
    when it has none or its resource is gone.

    Called as a function is traced. KerasHub makes the op once, on first
    use, and two things kill it under the tokenizer: made inside a
    `tf.data` function, its resource dies with that function; made eagerly,
    `keras.utils.set_random_seed` (which clears TensorFlow's eager kernel
    cache) deletes it. Either way every later dataset over the tokenizer
    fails with "Resource ... SentencepieceResource does not exist". A live
    op is kept: an exported function must capture the tokenizer's own
    (tracked) op, not an earlier one.
    """
    if getattr(tokenizer, "proto", None) is None or not hasattr(
        tokenizer, "_set_proto_tf"
    ):
        return
    with tf.init_scope():
        op = getattr(tokenizer, "_sentence_piece", None)
        if op is not None:
            try:
                op.vocab_size()
                return
            except tf.errors.NotFoundError:
                pass  # deleted under it: make a new one
        tokenizer._set_proto_tf(tokenizer.proto)


def _strings(x):
    # Eagerly, KerasHub leaves numpy string arrays as they are.
    return tf.convert_to_tensor(x, tf.string)


def _check_inputs(x, names):
    if not isinstance(x, dict) or not set(names) <= set(x):
        got = (
            f"a dict with keys {sorted(x)}" if isinstance(x, dict) else type(x).__name__
        )
        raise ValueError(
            f"VisionLMPreprocessor takes a dict with {', '.join(names)}; got {got}."
        )
