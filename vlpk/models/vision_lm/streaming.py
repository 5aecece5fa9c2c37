"""Streaming generation: text pieces as the tokens are produced.

KerasHub's `generate` returns when the whole batch is done (keras-hub
#976). A chat front end wants each token as it comes: `stream_generate`
seeds the same key/value cache with one pass over the image and the
prompt, then runs one cached step per token in Python, so it can yield
between steps. The maths is `VisionCausalLM.generate_step`'s, one example
at a time; the sampler is the task's (greedy, top-k, top-p: a beam search
cannot stream, its best beam is only known at the end).
"""

import numpy as np
import tensorflow as tf
from keras import ops


def stream_generate(task, image, prompt, max_length=None):
    """Yields the answer to `prompt` about `image`, piece by piece.

    Args:
        task: a `VisionCausalLM` with its preprocessor, compiled with a
            greedy, top-k or top-p sampler.
        image: image bytes, or pixels `[H, W, 3]` (0–255).
        prompt: a string.
        max_length: prompt plus answer, in tokens; the preprocessor's
            `sequence_length` by default.

    Yields:
        Strings that, joined, are the answer `task.generate(...,
        strip_prompt=True)` gives (up to the leading space it strips).

    Example:
    >>> import keras, keras_hub
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, small_cnn
    >>> from vlpk.models.vision_lm import (VisionCausalLM, VisionLMBackbone,
    ...     VisionLMPreprocessor)
    >>> keras.utils.set_random_seed(0)
    >>> vocabulary = {c: i for i, c in enumerate([*"?.deirstyĊĠ", "ye", "yes"])}
    >>> vocabulary["<|endoftext|>"] = len(vocabulary)  # GPT-2's end token
    >>> backbone = VisionLMBackbone(
    ...     ImageEncoder(small_cnn(8, widths=(4,)), output="tokens"),
    ...     keras_hub.models.GPT2Backbone(len(vocabulary), 1, 2, 8, 16,
    ...                                   max_sequence_length=64), attention="prefix")
    >>> tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary, ["y e", "ye s"])
    >>> lm = VisionCausalLM(backbone,  # untrained, so it says anything
    ...                     VisionLMPreprocessor(tokenizer, ImagePreprocessor(8), 16))
    >>> lm.compile(sampler="greedy", run_eagerly=True)  # eager: quick for one answer
    >>> image = np.zeros((8, 8, 3), "uint8")
    >>> pieces = list(stream_generate(lm, image, "is it red?"))
    >>> pieces  # the first token, a newline, leaves an empty first piece
    ['', 'yes', '?', 'y']
    >>> answer = lm.generate({"images": image, "prompts": "is it red?"},
    ...                      strip_prompt=True)
    >>> "".join(pieces) == answer.strip()  # what `generate` gives at the end
    True
    """
    if type(task.sampler).__name__ in ("BeamSampler", "ContrastiveSampler"):
        raise ValueError(
            "stream_generate needs a sampler that picks one token a step "
            "(greedy, top_k, top_p); compile(sampler=...) one."
        )
    preprocessor, decoder = task.preprocessor, task.backbone.decoder
    tokenizer = preprocessor.tokenizer
    x = preprocessor.generate_preprocess(
        {"images": [image], "prompts": [prompt]}, sequence_length=max_length
    )
    length = int(np.sum(ops.convert_to_numpy(x["padding_mask"])))
    image_tokens = task.backbone.get_image_tokens(x["images"])
    prefix = int(ops.shape(image_tokens)[1])
    mask = ops.cast(x["padding_mask"], "bool")
    hidden, cache = decoder.build_cache(image_tokens, x["token_ids"], mask)
    logits = task.backbone.token_embedding(hidden[:, length - 1], reverse=True)
    step = tf.function(decoder.call_with_cache)
    ids, said = [], ""
    for index in range(length, int(ops.shape(x["token_ids"])[1])):
        token = _next_token(task.sampler, logits)
        if token == tokenizer.end_token_id:
            break
        ids.append(token)
        text = _decode(tokenizer, ids)
        # A byte-level piece may end inside a UTF-8 character: wait for it.
        if not text.endswith("\ufffd") and len(text) > len(said):
            yield text[len(said) :].lstrip() if not said else text[len(said) :]
            said = text
        logits, _, cache = step(
            tf.constant([[token]], tf.int32), cache, tf.constant(prefix + index)
        )
        logits = logits[:, 0]


def _next_token(sampler, logits):
    probabilities = sampler.compute_probabilities(ops.cast(logits, "float32"))
    return int(ops.convert_to_numpy(sampler.get_next_token(probabilities))[0])


def _decode(tokenizer, ids):
    special = set(tokenizer.special_token_ids)
    text = tokenizer.detokenize(
        tf.constant([[i for i in ids if i not in special]], tf.int32)
    )
    text = ops.convert_to_numpy(text).reshape(-1)[0]
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
