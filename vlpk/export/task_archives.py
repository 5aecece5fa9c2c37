"""SavedModel signatures for the task models: `caption` and `answer`.

Like `dual_encoder_archive`, every graph starts from raw bytes and strings:
the `ImagePreprocessor` and `TextPreprocessor` run inside it, and so does
generation (a KerasHub sampler's loop) and detokenization (tf-text's
`FastWordpieceTokenizer`), so a TF Serving client sends a JPEG and gets a
string back.
"""

import keras
import tensorflow as tf

from vlpk.export.saved_model import IMAGE_BYTES, dual_encoder_archive
from vlpk.generation.captioning import detokenize_captions, generate_captions

QUESTION = tf.TensorSpec([None], tf.string, name="question")


def caption_fn(model, image_preprocessor, tokenizer, sampler="greedy"):
    """A graph-safe function `image_bytes [B] -> captions [B]` (tf.string).

    The ids come from `generate_captions`; the start token, the end token,
    the padding after it and any other special token are dropped, and the
    rest is detokenized, as `vlpk.generation.decode_captions` does eagerly.
    """
    image_tokens = model.image_tokenizer()
    decoder = model.caption_decoder
    start = tokenizer.token_to_id("[CLS]")
    end = tokenizer.token_to_id("[SEP]")

    def caption(image_bytes):
        tokens = image_tokens(image_preprocessor(image_bytes), training=False)
        ids = generate_captions(decoder, tokens, start, end, sampler=sampler)
        return detokenize_captions(ids, tokenizer)

    return caption


def add_caption_signature(archive, model, image_preprocessor, tokenizer):
    """Adds `caption`: `image_bytes` → `caption` (one string per image)."""
    archive.track(model.image_tokenizer())
    archive.track(model.caption_decoder)
    archive.track(image_preprocessor)
    if not tokenizer.built:
        tokenizer.build(None)  # a tokenizer has no weights; Keras asks anyway
    archive.track(tokenizer)
    generate = caption_fn(model, image_preprocessor, tokenizer)

    @tf.function(input_signature=[IMAGE_BYTES])
    def caption(image_bytes):
        return {"caption": generate(image_bytes)}

    archive.add_endpoint("caption", caption)
    return caption


def caption_archive(model, image_preprocessor, tokenizer):
    """An `ExportArchive` for a `Captioner`: `caption`, also `serving_default`."""
    archive = keras.export.ExportArchive()
    caption = add_caption_signature(archive, model, image_preprocessor, tokenizer)
    archive.add_endpoint("serving_default", caption)
    return archive


def answer_archive(model, answers, image_preprocessor, text_preprocessor):
    """An `ExportArchive` for a VQA `FusionClassifier`: `answer`.

    `answer`: `image_bytes`, `question` → `answer` (the arg-max answer of the
    vocabulary, a string) and `score` (its sigmoid probability, as trained
    with the soft-score binary cross-entropy). Also `serving_default`.

    Args:
        model: the VQA model (`vlpk.tasks.vqa.vqa_model`).
        answers: the answer vocabulary, in logit order (`answers.json`).
        image_preprocessor: the training `ImagePreprocessor`.
        text_preprocessor: the training `TextPreprocessor`.
    """
    if len(answers) != model.num_classes:
        raise ValueError(
            f"{len(answers)} answers for a model with {model.num_classes} logits."
        )
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(image_preprocessor)
    archive.track(text_preprocessor)
    vocabulary = tf.constant(list(answers), tf.string)

    @tf.function(input_signature=[IMAGE_BYTES, QUESTION])
    def answer(image_bytes, question):
        inputs = {"images": image_preprocessor(image_bytes)}
        inputs.update(text_preprocessor(question))
        logits = model(inputs, training=False)["predictions"]
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)
        probability = tf.sigmoid(tf.gather(logits, best, batch_dims=1))
        return {"answer": tf.gather(vocabulary, best), "score": probability}

    archive.add_endpoint("answer", answer)
    archive.add_endpoint("serving_default", answer)
    return archive


def pretrainer_archive(model, image_preprocessor, text_preprocessor, tokenizer=None):
    """`embed_image`, `embed_text`, `score` (`serving_default`) and, when the
    model has a caption decoder and `tokenizer` is given, `caption`."""
    archive = dual_encoder_archive(model, image_preprocessor, text_preprocessor)
    if getattr(model, "caption_decoder", None) is not None and tokenizer is not None:
        add_caption_signature(archive, model, image_preprocessor, tokenizer)
    return archive
