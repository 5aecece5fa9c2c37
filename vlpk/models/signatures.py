"""The raw inputs every SavedModel signature takes, and the shared signatures."""

import tensorflow as tf

# Encoded image files (JPEG, PNG, GIF, BMP), one per row.
IMAGE_BYTES = tf.TensorSpec([None], tf.string, name="image_bytes")
# UTF-8 strings, one per row.
TEXT = tf.TensorSpec([None], tf.string, name="text")


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
