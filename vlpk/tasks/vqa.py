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

from vlpk.data.formats.vqa_answers import soft_score_vector
from vlpk.data.pipelines.pipeline import AUTOTUNE, classification_dataset, image_dataset
from vlpk.data.shards.reading import decode_guarded, read_records
from vlpk.data.shards.shard_splits import ShardSplit
from vlpk.models.vqa import VQAClassifier

# Records (images with their questions) held by the stream's shuffle buffer.
_RECORD_SHUFFLE = 10_000


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
    if isinstance(examples, ShardSplit):
        return vqa_shard_dataset(
            examples,
            vocabulary,
            image_preprocessor,
            text_preprocessor,
            batch_size,
            shuffle,
            seed,
            repeat,
        )
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


def vqa_shard_dataset(
    split,
    vocabulary,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
):
    """`vqa_dataset`'s batches, streamed from a `ShardSplit` of VQA records.

    Each record holds one image and its questions (`vlpk.data.records.vqa_groups`):
    the image is decoded once for all of them. The soft-score targets come
    from `soft_score_vector` (the official answer normalization, in Python,
    per record); questions with no answer in `vocabulary` are left out, as
    in `vqa_dataset`.
    """
    records = read_records(split.path, shuffle_files=shuffle, seed=seed)
    if shuffle:
        records = records.shuffle(
            min(len(split), _RECORD_SHUFFLE), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        records = records.repeat()
    scores = _record_scores(vocabulary)

    def questions(record):
        image, ok = decode_guarded(record["image"], image_preprocessor, "uint8")
        targets = tf.numpy_function(
            scores, [record["answers"], record["answer_counts"]], tf.float32
        )
        targets = tf.reshape(targets, [-1, len(vocabulary)])
        keep = tf.logical_and(ok, tf.reduce_max(targets, axis=1) > 0)
        count = tf.shape(targets)[0]
        images = tf.broadcast_to(image[None], tf.concat([[count], tf.shape(image)], 0))
        chosen = (images, record["questions"], targets)
        return tf.data.Dataset.from_tensor_slices(
            tuple(tf.boolean_mask(t, keep) for t in chosen)
        )

    ds = records.flat_map(questions)
    if shuffle:
        ds = ds.shuffle(4 * batch_size, seed=seed + 1, reshuffle_each_iteration=True)

    def tokenize(images, text, target):
        x = {"images": tf.cast(images, "float32"), **text_preprocessor(text)}
        return x, {"predictions": target}

    ds = ds.batch(batch_size).map(tokenize, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def _record_scores(vocabulary):
    """`scores(answers, counts)`: one record's `[questions, K]` soft scores."""

    def scores(answers, counts):
        answers = [a.decode("utf-8") for a in answers]
        rows, start = [], 0
        for count in counts:
            rows.append(soft_score_vector(answers[start : start + count], vocabulary))
            start += count
        return np.stack(rows) if rows else np.zeros((0, len(vocabulary)), "float32")

    return scores


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
