"""Reads VQA v2 questions and annotations into `Example` records.

The format is the one of the official VQA v2 release. The questions file:

```
{"info": {...}, "task_type": "Open-Ended", "data_type": "mscoco",
 "data_subtype": "val2014",
 "questions": [{"image_id": 42, "question": "What color is...?",
                "question_id": 42000}]}
```

and the annotations file:

```
{"info": {...}, "data_subtype": "val2014",
 "annotations": [{"question_id": 42000, "image_id": 42,
                  "question_type": "what color is", "answer_type": "other",
                  "multiple_choice_answer": "red",
                  "answers": [{"answer": "red", "answer_confidence": "yes",
                               "answer_id": 1}, ...]}]}
```

The synthetic Shapes dataset is written in the same format
(`data_type == "shapes"`), so real and synthetic data go through this reader.
"""

import os
from typing import NamedTuple

from vlpk.data.records.example import (
    Example,
    RecordError,
    get_field,
    read_json,
    report_error,
    report_or_raise,
)
from vlpk.errors import InputError


class _Answers(NamedTuple):
    """The answers of an annotations file (see `_read_answers`)."""

    path: str | None  # the annotations file; `None`: a split without answers
    by_question: dict  # question id -> image_id, answers, answer, answer_type
    dropped: set  # question ids whose annotation was reported, not read


def read_vqa(
    questions_path, annotations_path, images_dir, image_files=None, report=None
):
    """Reads VQA v2 questions and their answers into one `Example` per question.

    Examples follow the order of the questions file.

    Args:
        questions_path: path of a VQA v2 questions JSON file.
        annotations_path: path of the matching annotations JSON file, or `None`
            for a split without public answers (e.g. test-dev); the answer
            fields are then left empty.
        images_dir: folder holding the images.
        image_files: optional mapping of image id -> file name relative to
            `images_dir`. By default the file name follows the dataset's own
            convention: `f"{image_id:012d}.jpg"` when the questions file has
            `data_type == "shapes"`, else COCO's
            `f"COCO_{data_subtype}_{image_id:012d}.jpg"`.
        report: `report(source, reason)` for a bad record, which is then
            skipped: a question or annotation with a missing or ill-typed
            field, a repeated question id, an empty question, an image id
            missing from `image_files` or differing between the two files.
            `source` is `"<file>: questions[<i>]"` (or `annotations[<i>]`);
            the question of a skipped annotation is skipped without a second
            report. `None` (default) raises `InputError` instead. Files whose
            question ids do not match raise in both modes.

    Returns:
        A list of `Example` records with `image_path`, `image_id`, `question`,
        `question_id`, `answers` (the raw annotator answers), `answer`
        (`multiple_choice_answer`) and `answer_type` set; `captions` is empty.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when a file does not exist.
        InputError: (a `ValueError`) when a file is not valid JSON, a required
            top-level key is missing, the question ids of the two files do not
            match, or, without `report`, for the first bad record.

    Example:

    Shapes writes its questions in VQA v2's layout:

    >>> import os, tempfile
    >>> from vlpk.data import write_shapes
    >>> paths = write_shapes(os.path.join(tempfile.mkdtemp(), "shapes"),
    ...                      image_size=32, splits={"val": 2}, progress=False)
    >>> val = paths["splits"]["val"]
    >>> from vlpk.data.formats.vqa import read_vqa
    >>> examples = read_vqa(val["questions"], val["annotations"],
    ...                     val["images_dir"])
    >>> examples[0].question, os.path.basename(examples[0].image_path)
    ('how many shapes are there?', '000000000001.jpg')
    """
    questions_path = os.fspath(questions_path)
    data = read_json(questions_path, "VQA questions")
    questions = get_field(data, "questions", questions_path, "the top level", list)
    file_name = _file_namer(data, questions_path, image_files)

    answers = _Answers(None, {}, set())
    if annotations_path is not None:
        answers = _read_answers(os.fspath(annotations_path), report)

    examples, seen, unreadable_ids = _read_questions(
        questions, questions_path, answers, images_dir, file_name, report
    )
    # A question skipped for an unreadable id may be the one an annotation
    # belongs to, so only a clean questions file proves an annotation orphaned.
    if not unreadable_ids:
        _refuse_unasked(answers, seen, questions_path)
    return examples


def _read_questions(questions, questions_path, answers, images_dir, file_name, report):
    """`(examples, seen, unreadable_ids)` of the questions, in their order.

    `seen` holds the question ids read; `unreadable_ids` says whether a
    question was skipped before its id could be read. A bad question is
    reported (or raises, see `read_vqa`); a question without an annotation
    in `answers` raises, unless its annotation was reported already.
    """
    examples, seen, unreadable_ids = [], set(), False
    for index, question in enumerate(questions):
        where = f"questions[{index}]"
        try:
            question_id = get_field(question, "question_id", questions_path, where, int)
        except RecordError as error:
            report_error(report, error)
            unreadable_ids = True
            continue
        if question_id in seen:
            report_or_raise(
                report,
                f"{questions_path}: {where}",
                f"repeats question_id {question_id}",
            )
            continue
        seen.add(question_id)
        if answers.path is not None and question_id not in answers.by_question:
            if question_id in answers.dropped:
                continue  # its annotation was reported already
            raise InputError(
                f"question_id {question_id} from {questions_path} has no "
                f"annotation in {answers.path}. Check that both files are of "
                "the same split."
            )
        try:
            example = _read_question(
                question,
                where,
                question_id,
                questions_path,
                answers.path,
                answers.by_question.get(question_id, {}),
                images_dir,
                file_name,
            )
        except RecordError as error:
            report_error(report, error)
            continue
        if example is not None:
            examples.append(example)
    return examples, seen, unreadable_ids


def _refuse_unasked(answers, seen, questions_path):
    """Raises for the first answered question id that no question has."""
    for question_id in answers.by_question:
        if question_id not in seen:
            raise InputError(
                f"question_id {question_id} from {answers.path} has no "
                f"question in {questions_path}. Check that both files are of "
                "the same split."
            )


def _read_question(
    question,
    where,
    question_id,
    questions_path,
    annotations_path,
    answer,
    images_dir,
    file_name,
):
    """One question's `Example`; raises `RecordError` for a bad record."""
    source = f"{questions_path}: {where}"
    image_id = get_field(question, "image_id", questions_path, where, int)
    text = get_field(question, "question", questions_path, where, str)
    if answer and answer["image_id"] != image_id:
        reason = (
            f"question_id {question_id} has image_id {answer['image_id']} in "
            f"{annotations_path}, but image_id {image_id} here"
        )
        raise RecordError(f"{source}: {reason}", source, reason)
    if not text.strip():
        raise RecordError(f"{source}: empty question", source, "empty question")
    path = file_name(image_id, source)
    return Example(
        image_path=os.path.join(images_dir, path),
        image_id=image_id,
        captions=(),
        question=text,
        question_id=question_id,
        answers=answer.get("answers", ()),
        answer=answer.get("answer"),
        answer_type=answer.get("answer_type"),
        question_type=answer.get("question_type"),
    )


def _file_namer(data, path, image_files):
    """Returns a function image id -> file name relative to the images folder."""
    if image_files is not None:

        def from_mapping(image_id, source):
            if image_id not in image_files:
                reason = (
                    f"image_id {image_id} is not in the `image_files` mapping "
                    "passed to read_vqa"
                )
                raise RecordError(f"{source}: {reason}.", source, reason)
            return image_files[image_id]

        return from_mapping

    if data.get("data_type") == "shapes":
        return lambda image_id, source: f"{image_id:012d}.jpg"
    if "data_subtype" not in data:
        raise InputError(
            f"{path}: the top level is missing the key 'data_subtype', needed to "
            "name COCO image files (COCO_<data_subtype>_<id>.jpg). Add it, or "
            "pass `image_files` to read_vqa."
        )
    subtype = get_field(data, "data_subtype", path, "the top level", str)
    return lambda image_id, source: f"COCO_{subtype}_{image_id:012d}.jpg"


def _read_answers(path, report):
    """The `_Answers` of the annotations file at `path`."""
    data = read_json(path, "VQA annotations")
    annotations = get_field(data, "annotations", path, "the top level", list)
    answers, dropped = {}, set()
    for index, annotation in enumerate(annotations):
        where = f"annotations[{index}]"
        try:
            question_id = get_field(annotation, "question_id", path, where, int)
        except RecordError as error:
            report_error(report, error)
            continue
        if question_id in answers:
            report_or_raise(
                report, f"{path}: {where}", f"repeats question_id {question_id}"
            )
            continue
        try:
            raw = get_field(annotation, "answers", path, where, list)
            answers[question_id] = {
                "image_id": get_field(annotation, "image_id", path, where, int),
                "answers": tuple(
                    get_field(a, "answer", path, f"{where}['answers'][{i}]", str)
                    for i, a in enumerate(raw)
                ),
                "answer": get_field(
                    annotation, "multiple_choice_answer", path, where, str
                ),
                "answer_type": get_field(annotation, "answer_type", path, where, str),
                # Optional: only the official evaluation's breakdown reads it.
                "question_type": annotation.get("question_type"),
            }
        except RecordError as error:
            report_error(report, error)
            dropped.add(question_id)
    return _Answers(path, answers, dropped - set(answers))
