"""SavedModel export of a `ContrastivePretrainer`, with its own preprocessor.

The task carries its preprocessor (`ContrastivePreprocessor`, or
`KerasHubContrastivePreprocessor` for a KerasHub CLIP or SigLIP backbone), so
the serving graph is built from the task alone: the signatures take raw image
bytes and raw strings, as `dual_encoder_archive`'s do.
"""

import keras
import tensorflow as tf

from vlpk.export.saved_model import IMAGE_BYTES, TEXT


def contrastive_task_archive(task):
    """An `ExportArchive` with `embed_image`, `embed_text` and `score`.

    - `embed_image`: `image_bytes` → `image_embedding` (L2-normalized);
    - `embed_text`: `text` → `text_embedding`;
    - `score` (also `serving_default`): the cosine similarity of each image
      with the text at the same position, as in `dual_encoder_archive`, so
      `vlpk predict --model` serves it too.

    Decoding (with the pixel guard), resizing, tokenization and packing run
    inside the graph, with the task's own preprocessor, so serving cannot
    disagree with training. The preprocessor and its tokenizer are tracked:
    a tokenizer's lookup tables are resources, and a SavedModel whose
    functions use an untracked resource fails to save.

    Args:
        task: a `vlpk.models.ContrastivePretrainer` with a preprocessor.

    Returns:
        A `keras.export.ExportArchive`; write it with
        `vlpk.export.export_saved_model`.

    Example:
    >>> archive = contrastive_task_archive(task)  # doctest: +SKIP
    >>> export_saved_model(archive, "saved_models", "clip")  # doctest: +SKIP
    'saved_models/clip/1'
    """
    preprocessor = task.preprocessor
    if preprocessor is None:
        raise ValueError(
            "contrastive_task_archive needs a task with a preprocessor: the "
            "signatures take raw image bytes and strings. Build the task with "
            "ContrastivePretrainer(backbone, preprocessor)."
        )
    backbone = task.backbone
    archive = keras.export.ExportArchive()
    for layer in (preprocessor.tokenizer, preprocessor, backbone):
        if not layer.built:
            layer.build(None)  # a preprocessing layer has no weights to build
        archive.track(layer)

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

    archive.add_endpoint("embed_image", embed_image)
    archive.add_endpoint("embed_text", embed_text)
    archive.add_endpoint("score", score)
    archive.add_endpoint("serving_default", score)
    return archive
