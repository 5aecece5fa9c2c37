"""VQA records that store each image once, its questions beside it.

VQA v2 asks about 5.4 questions an image. One record per question stored
the encoded image once per question; a conversion now writes one record per
image holding all its questions, in the questions file's order of first
appearance (see `vlpk/data/records/tfrecord.py` for the features). Readers expand a
record back into one `Example` per question (`expand_record`), and the
training stream decodes each image once for all its questions.
"""

import json

from vlpk.data.records.example import Example


def group_questions(examples):
    """One `Example` per image, its question `Example`s in `questions`.

    Args:
        examples: `Example`s of one question each (`vlpk.data.read_vqa`).

    Returns:
        A list in order of each image's first question; each item keeps the
        image's path and id, no question fields of its own, and its
        questions in file order.

    Example:
    >>> qs = [Example("a.jpg", 1, (), "what?", 10), Example("b.jpg", 2, (), "who?", 20),
    ...       Example("a.jpg", 1, (), "why?", 11)]
    >>> images = group_questions(qs)
    >>> [(e.image_id, [q.question_id for q in e.questions]) for e in images]
    [(1, [10, 11]), (2, [20])]
    """
    groups = {}
    for example in examples:
        key = (example.image_path, example.image_id)
        groups.setdefault(key, []).append(example)
    return [
        Example(path, image_id, (), questions=tuple(questions))
        for (path, image_id), questions in groups.items()
    ]


def question_features(questions):
    """The grouped-question features of a record (lists, one entry a question)."""
    return {
        "questions": [q.question or "" for q in questions],
        "question_ids": [
            -1 if q.question_id is None else q.question_id for q in questions
        ],
        "answer_counts": [len(q.answers) for q in questions],
        "answers": [a for q in questions for a in q.answers],
        "consensus_answers": [q.answer or "" for q in questions],
        "answer_types": [q.answer_type or "" for q in questions],
        "question_types": [q.question_type or "" for q in questions],
    }


def expand_questions(values, image_path, image_id):
    """The question `Example`s of a parsed grouped record (Python values).

    Args:
        values: a dict of the `question_features` keys, strings decoded.
        image_path: the path the image is read from now.
        image_id: the image's id.
    """
    examples, start = [], 0
    types = values.get("question_types") or []  # absent in older shards
    for i, question in enumerate(values["questions"]):
        count = int(values["answer_counts"][i])
        question_id = int(values["question_ids"][i])
        examples.append(
            Example(
                image_path,
                image_id,
                (),
                question=question,
                question_id=None if question_id < 0 else question_id,
                answers=tuple(values["answers"][start : start + count]),
                answer=values["consensus_answers"][i] or None,
                answer_type=values["answer_types"][i] or None,
                question_type=(types[i] if i < len(types) else "") or None,
            )
        )
        start += count
    return examples


def vqa_v2_files(examples, questions_path, annotations_path):
    """Writes `examples`' questions and answers as VQA v2's two JSON files.

    The official evaluation (`vlpk evaluate vqa`) reads these, so a split
    unpacked from shards is scored as the original files are. A missing
    question type is written as `""`.
    """
    questions = {
        "questions": [
            {
                "image_id": e.image_id,
                "question": e.question,
                "question_id": e.question_id,
            }
            for e in examples
        ]
    }
    annotations = {
        "annotations": [
            {
                "question_id": e.question_id,
                "image_id": e.image_id,
                "question_type": e.question_type or "",
                "answer_type": e.answer_type or "",
                "multiple_choice_answer": e.answer or "",
                "answers": [
                    {"answer": a, "answer_id": i + 1} for i, a in enumerate(e.answers)
                ],
            }
            for e in examples
        ]
    }
    for path, value in ((questions_path, questions), (annotations_path, annotations)):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(value, f)
