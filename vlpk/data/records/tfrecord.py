"""The TFRecord layout of converted datasets: one `tf.train.Example` per image.

`vlpk data convert` writes it, and `vlpk.data.shards.reading` reads it. Every record
carries the encoded image bytes (as found on disk, after validation) and the
fields of `vlpk.data.Example`; absent fields are stored empty:

| feature | type | content |
|---|---|---|
| `image` | bytes | the encoded image (JPEG, PNG, ...) |
| `image_id` | int64 | the dataset's image id |
| `height`, `width` | int64 | the image's size, read from its header |
| `source` | bytes | the image path the record came from |
| `captions` | bytes list | UTF-8 captions, possibly empty |
| `question`, `answer`, `answer_type` | bytes | VQA fields, or `b""` |
| `question_id` | int64 | VQA question id, or -1 |
| `answers` | bytes list | the raw annotator answers |
| `label` | int64 | the class index of classification data, or -1 |

A VQA conversion writes one record per image, its questions in lists of
one entry a question (`vlpk.data.records.vqa_groups`); `question` and
`question_id` are then empty, and `answers` holds every question's answers
in turn:

| feature | type | content |
|---|---|---|
| `questions` | bytes list | each question's text |
| `question_ids` | int64 list | each question's id |
| `answer_counts` | int64 list | how many of `answers` are each question's |
| `consensus_answers` | bytes list | each question's `multiple_choice_answer` |
| `answer_types` | bytes list | each question's answer type |
| `question_types` | bytes list | each question's question type, or `b""` |

A conversation (`vlpk data convert --format llava`) also carries its turns;
its `image` is `b""` (and `height`, `width` 0) when it is text-only. Records
of other kinds are written without these features and read back with the
defaults:

| feature | type | content |
|---|---|---|
| `roles` | bytes list | each turn's speaker, `b"human"` or `b"gpt"` |
| `texts` | bytes list | each turn's UTF-8 text, `<image>` removed |
| `image_turn` | int64 | the turn the image goes before (0), or -1: no image |
| `conversation_id` | bytes | the conversation's own id, or `b""` |
"""

import tensorflow as tf

from vlpk.data.records.vqa_groups import question_features

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "image_id": tf.io.FixedLenFeature([], tf.int64),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "source": tf.io.FixedLenFeature([], tf.string),
    "captions": tf.io.RaggedFeature(tf.string),
    "question": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    "question_id": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "answers": tf.io.RaggedFeature(tf.string),
    "answer": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    "answer_type": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    # Written only for labelled data; shards converted before it read -1.
    "label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    # Grouped VQA questions (empty in every other record).
    "questions": tf.io.RaggedFeature(tf.string),
    "question_ids": tf.io.RaggedFeature(tf.int64),
    "answer_counts": tf.io.RaggedFeature(tf.int64),
    "consensus_answers": tf.io.RaggedFeature(tf.string),
    "answer_types": tf.io.RaggedFeature(tf.string),
    "question_types": tf.io.RaggedFeature(tf.string),
    "roles": tf.io.RaggedFeature(tf.string),
    "texts": tf.io.RaggedFeature(tf.string),
    "image_turn": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "conversation_id": tf.io.FixedLenFeature([], tf.string, default_value=b""),
}


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _utf8(text):
    return (text or "").encode("utf-8")


def serialize_example(example, image_bytes, height, width):
    """Encodes one `Example` and its image as a serialized `tf.train.Example`.

    Args:
        example: a `vlpk.data.Example`.
        image_bytes: the encoded image.
        height: the image height in pixels.
        width: the image width in pixels.

    Returns:
        The serialized proto (`bytes`), ready for `tf.io.TFRecordWriter`.

    Example:
    >>> from vlpk.data.records.example import Example
    >>> record = serialize_example(Example("a.jpg", 1, ("a cat",)), b"...", 4, 4)
    >>> parse_example(record)["captions"].numpy().tolist()
    [b'a cat']
    """
    feature = {
        "image": _bytes([image_bytes]),
        "image_id": _int(int(example.image_id)),
        "height": _int(int(height)),
        "width": _int(int(width)),
        "source": _bytes([_utf8(example.image_path)]),
        "captions": _bytes([_utf8(c) for c in example.captions]),
        "question": _bytes([_utf8(example.question)]),
        "question_id": _int(
            -1 if example.question_id is None else int(example.question_id)
        ),
        "answers": _bytes([_utf8(a) for a in example.answers]),
        "answer": _bytes([_utf8(example.answer)]),
        "answer_type": _bytes([_utf8(example.answer_type)]),
    }
    if example.label is not None:
        feature["label"] = _int(int(example.label))
    if example.questions:
        feature.update(_grouped_question_features(example.questions))
    if example.is_conversation:
        feature.update(_conversation_features(example))
    proto = tf.train.Example(features=tf.train.Features(feature=feature))
    # Deterministic: the same record gives the same bytes in every process
    # (map fields are written in a per-process order otherwise).
    return proto.SerializeToString(deterministic=True)


def _grouped_question_features(questions):
    """The features of an image's VQA questions (see the table above)."""
    values = question_features(questions)
    return {
        "questions": _bytes([_utf8(q) for q in values["questions"]]),
        "question_ids": _ints(values["question_ids"]),
        "answer_counts": _ints(values["answer_counts"]),
        "answers": _bytes([_utf8(a) for a in values["answers"]]),
        "consensus_answers": _bytes([_utf8(a) for a in values["consensus_answers"]]),
        "answer_types": _bytes([_utf8(t) for t in values["answer_types"]]),
        "question_types": _bytes([_utf8(t) for t in values["question_types"]]),
    }


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _conversation_features(example):
    """The turn features of a conversation (see the table above)."""
    return {
        "roles": _bytes([_utf8(r) for r in example.roles]),
        "texts": _bytes([_utf8(t) for t in example.texts]),
        # `vlpk.data.formats.llava` moves the placeholder before the first turn, as
        # LLaVA does; -1 says the conversation has no image at all.
        "image_turn": _int(0 if example.image_path else -1),
        "conversation_id": _bytes([_utf8(example.conversation_id)]),
    }


def parse_example(serialized):
    """Parses one serialized record (a scalar string tensor) into a dict.

    `captions` and `answers` (and a conversation's `roles` and `texts`) come
    back as 1-D string tensors of varying length.
    """
    return tf.io.parse_single_example(serialized, FEATURES)
