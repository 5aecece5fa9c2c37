"""The raw inputs every SavedModel signature takes, and the shared signatures."""

import tensorflow as tf

# Encoded image files (JPEG, PNG, GIF, BMP), one per row.
IMAGE_BYTES = tf.TensorSpec([None], tf.string, name="image_bytes")
# UTF-8 strings, one per row.
TEXT = tf.TensorSpec([None], tf.string, name="text")
# UTF-8 questions about the image at the same position, one per row.
QUESTION = tf.TensorSpec([None], tf.string, name="question")


def contrastive_signatures(preprocessor, backbone):
    """`embed_image`, `embed_text` and `score` (also `serving_default`).

    - `embed_image`: `image_bytes` → `image_embedding` (L2-normalized);
    - `embed_text`: `text` → `text_embedding`;
    - `score`: the cosine similarity of each image with the text at the
      same position, so `vlpk predict --model` serves it too.

    Decoding (with the pixel guard), resizing, tokenization and packing run
    inside the graph, with the task's own preprocessor, so serving cannot
    disagree with training.

    Args:
        preprocessor: a preprocessor with `preprocess_images` and
            `preprocess_text`.
        backbone: a backbone with `get_image_embeddings` and
            `get_text_embeddings`.
    """

    @tf.function(input_signature=[IMAGE_BYTES])
    def embed_image(image_bytes):
        images = preprocessor.preprocess_images(image_bytes)
        return {"image_embedding": backbone.get_image_embeddings(images)}

    @tf.function(input_signature=[TEXT])
    def embed_text(text):
        inputs = preprocessor.preprocess_text(text)
        return {"text_embedding": backbone.get_text_embeddings(**inputs)}

    @tf.function(input_signature=[IMAGE_BYTES, TEXT])
    def score(image_bytes, text):
        # The functions above, traced once: their input signatures match.
        image = embed_image(image_bytes)["image_embedding"]
        text = embed_text(text)["text_embedding"]
        return {"score": tf.reduce_sum(image * text, axis=-1)}

    return {
        "embed_image": embed_image,
        "embed_text": embed_text,
        "score": score,
        "serving_default": score,
    }


def check_text_compatibility(text_encoder, text_preprocessor):
    """Fails at export, not at the first request, on a mismatched tokenizer.

    Args:
        text_encoder: a vlpk `TextEncoder` (or None: nothing to check).
        text_preprocessor: anything with a `tokenizer` and, optionally, a
            `sequence_length` (a `TextPreprocessor` or a task preprocessor).
    """
    if text_encoder is None:
        return
    backbone = getattr(text_encoder, "backbone", None)
    encoder_vocabulary = getattr(backbone, "vocabulary_size", None)
    tokenizer_vocabulary = text_preprocessor.tokenizer.vocabulary_size()
    if encoder_vocabulary is not None and tokenizer_vocabulary > encoder_vocabulary:
        raise ValueError(
            f"The tokenizer has {tokenizer_vocabulary} tokens but the text encoder "
            f"embeds only {encoder_vocabulary}. Build the encoder with "
            f"vocabulary_size={tokenizer_vocabulary}."
        )
    limit = getattr(backbone, "max_sequence_length", None) or getattr(
        text_encoder, "max_sequence_length", None
    )
    length = getattr(text_preprocessor, "sequence_length", None)
    if limit is not None and length is not None and length > limit:
        raise ValueError(
            f"The text preprocessor packs {length} tokens but the text encoder "
            f"accepts at most {limit}. Use TextPreprocessor(..., "
            f"sequence_length={limit}) or a longer encoder."
        )
