"""`VisionCausalLM`'s TF Serving signatures: `generate` and `caption`.

Everything runs in the graph, as in `VisionCausalLM.generate`: decoding
and the pixel guard (the image converter), the chat template and
tokenization (`generate_preprocess`), cached generation (`generate_step`,
compiled with XLA), and detokenization with TensorFlow ops (KerasHub's
`generate_postprocess` converts to NumPy and cannot be traced).
"""

import tensorflow as tf

from vlpk.data.shapes.conversations import DESCRIBE
from vlpk.models.signatures import IMAGE_BYTES

PROMPT = tf.TensorSpec([None], tf.string, name="prompt")


def vision_lm_signatures(task, jit_compile=True, caption_prompt=DESCRIBE):
    """`{"generate", "caption", "serving_default"}` tf.functions of `task`.

    - `generate`: `image_bytes` `[B]` and `prompt` `[B]` (strings) →
      `text` `[B]`, the generated answer without its prompt;
    - `caption`: `image_bytes` → `caption`, the answer to `caption_prompt`.

    Args:
        task: a `VisionCausalLM` with its preprocessor (tokenizer, image
            converter, chat template, sequence length: the generated text
            fills the sequence up to that length).
        jit_compile: compile the generation loop with XLA.
        caption_prompt: the prompt `caption` asks.
    """
    preprocessor = task.preprocessor
    tokenizer = preprocessor.tokenizer
    step = tf.function(task.generate_step, jit_compile=jit_compile)
    stop_token_ids = (tokenizer.end_token_id,)

    def answer(image_bytes, prompts):
        inputs = preprocessor.generate_preprocess(
            {"images": image_bytes, "prompts": prompts}
        )
        outputs = step(inputs, stop_token_ids=stop_token_ids)
        return detokenize_answers(outputs, inputs["padding_mask"], tokenizer)

    @tf.function(input_signature=[IMAGE_BYTES, PROMPT])
    def generate(image_bytes, prompt):
        return {"text": answer(image_bytes, prompt)}

    @tf.function(input_signature=[IMAGE_BYTES])
    def caption(image_bytes):
        prompts = tf.fill(tf.shape(image_bytes), caption_prompt)
        return {"caption": answer(image_bytes, prompts)}

    return {"generate": generate, "caption": caption, "serving_default": generate}


def detokenize_answers(outputs, prompt_mask, tokenizer):
    """The generated tokens after each prompt as strings, with TF ops.

    As KerasHub's `generate(strip_prompt=True)` then `generate_postprocess`:
    the prompt's positions go, then everything from the stop token on and
    every special token; the rest is detokenized.

    Args:
        outputs: `generate_step`'s `{"token_ids", "padding_mask"}`.
        prompt_mask: the prompt's `padding_mask` (`generate_preprocess`).
        tokenizer: the KerasHub tokenizer.

    Returns:
        A `tf.string` tensor `[batch]`.
    """
    ids = tf.cast(outputs["token_ids"], tf.int32)
    keep = tf.cast(outputs["padding_mask"], tf.bool) & ~tf.cast(prompt_mask, tf.bool)
    special = tf.constant(sorted(tokenizer.special_token_ids), tf.int32)
    keep &= tf.reduce_all(ids[:, :, None] != special, axis=-1)
    text = tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))
    return tf.strings.strip(tf.reshape(text, [-1]))
