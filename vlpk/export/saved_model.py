"""SavedModel export for TF Serving: raw image bytes and raw strings in.

Keras 3's `model.save` writes `.keras` files, not SavedModels, so the export is
built with `keras.export.ExportArchive`. The graph holds all preprocessing
(decoding with the pixel guard, resizing, tokenization), so a client sends
JPEG bytes and strings and nothing else.
"""

import os

import keras
import tensorflow as tf

from vlpk.export.versioning import write_version_atomically
from vlpk.models.signatures import IMAGE_BYTES, TEXT


def dual_encoder_archive(model, image_preprocessor, text_preprocessor):
    """An `ExportArchive` with `embed_image`, `embed_text` and `score`.

    `score` (cosine similarity of each image with the text at the same
    position) is also `serving_default`.

    Args:
        model: a `vlpk.models.DualEncoderBackbone`.
        image_preprocessor: the `ImagePreprocessor` used in training.
        text_preprocessor: the `TextPreprocessor` used in training.
    """
    _check_text_compatibility(model.text_encoder, text_preprocessor)
    image_embedder = model.image_embedder()
    text_embedder = model.text_embedder()
    archive = keras.export.ExportArchive()
    archive.track(image_embedder)
    archive.track(text_embedder)
    archive.track(image_preprocessor)
    archive.track(text_preprocessor)

    def embed_image_fn(image_bytes):
        images = image_preprocessor(image_bytes)
        return image_embedder(images, training=False)

    def embed_text_fn(text):
        return text_embedder(text_preprocessor(text), training=False)

    @tf.function(input_signature=[IMAGE_BYTES])
    def embed_image(image_bytes):
        return {"image_embedding": embed_image_fn(image_bytes)}

    @tf.function(input_signature=[TEXT])
    def embed_text(text):
        return {"text_embedding": embed_text_fn(text)}

    @tf.function(input_signature=[IMAGE_BYTES, TEXT])
    def score(image_bytes, text):
        image = embed_image_fn(image_bytes)
        text = embed_text_fn(text)
        return {"score": tf.reduce_sum(image * text, axis=-1)}

    archive.add_endpoint("embed_image", embed_image)
    archive.add_endpoint("embed_text", embed_text)
    archive.add_endpoint("score", score)
    archive.add_endpoint("serving_default", score)
    return archive


def _check_text_compatibility(text_encoder, text_preprocessor):
    """Fails at export, not at the first request, on a mismatched tokenizer."""
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


def export_saved_model(archive, export_root, name, version=None, overwrite=False):
    """Writes `archive` to `<export_root>/<name>/<version>/`, atomically.

    Args:
        archive: a `keras.export.ExportArchive`.
        export_root: the models folder TF Serving watches (`saved_models`).
        name: the model name.
        version: the integer version; the next free one when None.
        overwrite: replace an existing version.

    Returns:
        The path of the written version.

    Example:
    >>> archive = dual_encoder_archive(model, image_pre, text_pre)
    >>> export_saved_model(archive, "saved_models", "quickstart")
    'saved_models/quickstart/1'
    """
    model_dir = os.path.join(export_root, name)

    def write(path):
        archive.write_out(path, verbose=False)

    _, path = write_version_atomically(model_dir, write, version, overwrite)
    return path


def signature_names(path):
    """The sorted signature names of the SavedModel at `path`, read from its
    `saved_model.pb` as `saved_model_cli show` and TF Serving see them."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    return sorted(
        name for name in saved.meta_graphs[0].signature_def if not name.startswith("__")
    )
