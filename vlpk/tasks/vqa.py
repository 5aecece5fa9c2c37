"""VQA: an answer classifier over the top-K answers on the fusion encoder.

The question's tokens attend to the image tokens through the (pretrained)
cross-attention fusion encoder; its `[CLS]` token feeds a linear layer with
one logit per answer of the vocabulary. Training targets are the VQA soft
scores of each answer (`vlpk.data.soft_score_vector`) under a binary
cross-entropy, as in the bottom-up-attention line of work; at test time the
arg-max answer is written in the official results format and scored with
the official VQA accuracy (`vlpk.metrics.vqa`).
"""

import numpy as np
import tensorflow as tf

from vlpk.data.pipeline import AUTOTUNE, classification_dataset, image_dataset
from vlpk.data.vqa_answers import soft_score_vector
from vlpk.models.vqa import VQAClassifier


def vqa_targets(examples, vocabulary):
    """`[num_examples, len(vocabulary)]` soft scores, float32."""
    return np.stack([soft_score_vector(e.answers, vocabulary) for e in examples])


def vqa_dataset(
    examples,
    vocabulary,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
):
    """(image, question) → soft-score batches for a `VQAClassifier`.

    Questions none of whose answers is in the vocabulary are left out of
    training (they cannot be learned), as in the VQA literature.

    Returns:
        A `tf.data.Dataset` of `({"images", "token_ids", "padding_mask"},
        {"predictions": [B, K] soft scores})`.
    """
    targets = vqa_targets(examples, vocabulary)
    keep = targets.max(axis=1) > 0
    if not keep.any():
        raise ValueError("No question has an answer in the answer vocabulary.")
    kept = [e for e, k in zip(examples, keep) if k]
    ds = classification_dataset(
        [e.image_path for e in kept],
        [e.question for e in kept],
        targets[keep],
        image_preprocessor,
        text_preprocessor,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
    )
    return ds.repeat() if repeat else ds


def vqa_task(source, answers, fusion=None, dropout=0.1):
    """A `VQAClassifier` task on `source`'s backbone (shared weights).

    Args:
        source: a pretraining task, or its backbone.
        answers: the answer vocabulary, in logit order.
        fusion: the fusion layer; by default the backbone's own (pretrained
            by matching and masked LM), or a new `ConcatFusion` for a dual
            encoder, which has none.
        dropout: dropout before the answer head.
    """
    return VQAClassifier(
        getattr(source, "backbone", source),
        list(answers),
        fusion=fusion,
        dropout=dropout,
        compile=False,
        name="vqa",
    )


def predict_answers(
    model, examples, vocabulary, image_preprocessor, text_preprocessor, batch_size=64
):
    """The arg-max answer of each question, in the official results format.

    Returns:
        `[{"question_id": int, "answer": str}, ...]`, one per example.
    """
    images = image_dataset(examples, image_preprocessor, batch_size)
    questions = tf.data.Dataset.from_tensor_slices(
        np.array([e.question for e in examples], dtype=object)
    ).batch(batch_size)
    ds = tf.data.Dataset.zip(images, questions).map(
        lambda image, text: {"images": image, **text_preprocessor(text)},
        num_parallel_calls=AUTOTUNE,
    )
    best = []
    for batch in ds.prefetch(AUTOTUNE):
        logits = model(batch, training=False)["predictions"]
        best.extend(np.asarray(logits).argmax(axis=1).tolist())
    return [
        {"question_id": int(e.question_id), "answer": vocabulary[i]}
        for e, i in zip(examples, best)
    ]
