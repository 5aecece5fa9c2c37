"""Evaluating a dual encoder: embed a split, then score retrieval."""

import numpy as np

from vlpk.data.pipeline import image_dataset, text_dataset
from vlpk.metrics.retrieval import retrieval_metrics


def embed_split(model, examples, image_preprocessor, text_preprocessor):
    """Embeds every image and every caption of `examples`.

    Returns:
        `(image_embeddings [N, D], text_embeddings [M, D], text_to_image [M])`.
    """
    image_embedder = model.image_embedder()
    text_embedder = model.text_embedder()
    images = np.concatenate(
        [
            np.asarray(image_embedder(batch, training=False))
            for batch in image_dataset(examples, image_preprocessor)
        ]
    )
    captions, owner = [], []
    for index, example in enumerate(examples):
        captions.extend(example.captions)
        owner.extend([index] * len(example.captions))
    texts = np.concatenate(
        [
            np.asarray(text_embedder(batch, training=False))
            for batch in text_dataset(captions, text_preprocessor)
        ]
    )
    return images, texts, np.asarray(owner)


def evaluate_retrieval(model, examples, image_preprocessor, text_preprocessor):
    """Image→text and text→image Recall@1/5/10 and ranks on `examples`.

    Example:
    >>> metrics = evaluate_retrieval(model, read_shapes(root, "test"),
    ...                              image_pre, text_pre)
    >>> metrics["i2t_r1"]
    """
    images, texts, owner = embed_split(
        model, examples, image_preprocessor, text_preprocessor
    )
    return retrieval_metrics(images, texts, owner)
