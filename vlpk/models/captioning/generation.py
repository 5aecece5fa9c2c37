"""Captioning with a task's caption decoder: eagerly, and as a signature.

`ImageTextPretrainer` (CoCa) and `ImageCaptioner` generate the same way:
the preprocessor's image converter makes pixels, the backbone makes image
tokens, KerasHub's sampler loop runs the decoder, and the tokenizer turns
the ids back into text. Both tasks call these two functions.
"""

import tensorflow as tf

from vlpk.generation.captioning import (
    decode_captions,
    detokenize_captions,
    generate_captions,
)
from vlpk.models.signatures import IMAGE_BYTES


def generate_text(
    task, decoder, inputs, max_length=None, sampler="greedy", **sampler_kwargs
):
    """Captions raw images with `decoder` over `task.backbone`'s image tokens.

    Args:
        task: a task with a `backbone` (with `get_image_tokens`) and a
            `preprocessor` (its image converter and tokenizer).
        decoder: a `vlpk.layers.CaptionDecoder`.
        inputs: image bytes or pixels (`[H, W, 3]` or `[B, H, W, 3]`,
            0–255), or a dict with them under `images`.
        max_length: the caption length, start token included; defaults to
            the decoder's `sequence_length`.
        sampler: a `keras_hub.samplers.Sampler` or its name.
        **sampler_kwargs: arguments of a sampler given by name.

    Returns:
        A string per image, or one string for one image.
    """
    if decoder is None or task.preprocessor is None:
        raise ValueError(
            "generate() needs a caption_decoder (the backbone's, or the "
            "task's own) and a preprocessor (its image converter and "
            f"tokenizer); this task has caption_decoder={decoder!r}, "
            f"preprocessor={task.preprocessor!r}."
        )
    images = inputs["images"] if isinstance(inputs, dict) else inputs
    images = tf.convert_to_tensor(images)
    single = images.shape.rank == (0 if images.dtype == tf.string else 3)
    if single:
        images = images[None]
    pixels = task.preprocessor.preprocess_images(images)
    tokenizer = task.preprocessor.tokenizer
    ids = generate_captions(
        decoder,
        task.backbone.get_image_tokens(pixels),
        tokenizer.start_token_id,
        tokenizer.end_token_id,
        max_length=max_length,
        sampler=sampler,
        **sampler_kwargs,
    )
    captions = decode_captions(ids, tokenizer)
    return captions[0] if single else captions


def caption_signature(task, decoder):
    """`caption`: `image_bytes` → one string per image, inside the graph.

    Captions are generated greedily (KerasHub's sampler loop) and
    detokenized with TensorFlow ops: KerasHub's `generate_postprocess` can't
    run inside a traced export function.
    """
    preprocessor, backbone = task.preprocessor, task.backbone
    tokenizer = preprocessor.tokenizer

    @tf.function(input_signature=[IMAGE_BYTES])
    def caption(image_bytes):
        tokens = backbone.get_image_tokens(preprocessor.preprocess_images(image_bytes))
        ids = generate_captions(
            decoder, tokens, tokenizer.start_token_id, tokenizer.end_token_id
        )
        return {"caption": detokenize_captions(ids, tokenizer)}

    return caption
