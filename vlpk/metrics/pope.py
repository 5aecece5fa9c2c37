"""POPE object-hallucination scores, reproduced from the reference evaluation.

POPE (Li et al., 2023, "Evaluating Object Hallucination in Large
Vision-Language Models", EMNLP) polls a model with "Is there a <object> in
the image?" questions, half about objects in the image ("yes") and half
about objects that are not ("no"), and scores the yes/no answers.

The reference is `evaluate.py` of github.com/AoiDragon/POPE (read at commit
08d957b917e5a378a2f99d35b6293c536a66298b, 2025; `evaluate.py` is unchanged
since the initial commit f3ec604, 2023), MIT license, Copyright (c) 2024 Yifan
Li. `parse_yes_no` and `pope_scores` follow it step by step; each quoted line
below is from it.

1. Only the first sentence counts: `if text.find('.') != -1:` then
   `text = text.split('.')[0]`. "Yes. There is no dog." is a yes; an answer
   that starts with a period ("...no") has an empty first sentence.
2. Commas are deleted, not spaced out (`text = text.replace(',', '')`), then
   the text is split on single spaces only (`words = text.split(' ')`):
   "No, there is not" gives the word "No"; "No,there" gives "Nothere"; a
   tab or a newline does not separate words ("no\\n" is one word).
3. `if 'No' in words or 'not' in words or 'no' in words:` the answer is
   "no", else it is "yes". The match is on whole words and case-sensitive:
   "There is no dog" and "I do not see one" are no; "NO", "Not at all",
   "No!", "Nope", "None" and "I don't think so" are yes. An answer with
   neither word, even an empty one, is a yes.
4. "yes" is the positive class: `pos = 1`, and a label is
   `if label_list[i] == 'no': label_list[i] = 0` `else: label_list[i] = 1`.
   So `precision = float(TP) / float(TP + FP)` is the share of "yes" answers
   that are right, `recall = float(TP) / float(TP + FN)` the share of present
   objects the model finds, `f1 = 2*precision*recall / (precision + recall)`,
   `acc = (TP + TN) / (TP + TN + FP + FN)`, and
   `yes_ratio = pred_list.count(1) / len(pred_list)` the share of answers
   parsed as yes. These are fractions, not percentages, and are not rounded
   (the paper's tables show them in percent); `pope_table` shows percent.

Where vlpk departs from it, on purpose:

- Answers are matched to questions by `question_id`. The reference pairs the
  answer file and the question file by line (`zip(pred_list, label_list)`;
  its README: "the order of POPE questions and the answer should be the
  same"), and `zip` silently drops the tail of the longer file. Here an
  unknown or a missing question id raises `InputError`.
- A label other than exactly "yes" or "no" raises `InputError`; the
  reference counts any label but "no" ("No", "yes ") as a yes.
- Where a ratio is 0/0 (no "yes" answer at all, say) the reference raises
  `ZeroDivisionError`; here that ratio is 0.0, as scikit-learn reports it.
- The question file may be POPE's JSON lines (`output/coco/*.json`, one
  object per line, as its `pope()` writes them) or a JSON list (its
  `output/seem/*/*.json` files are pretty-printed lists, which the
  reference's own `json.loads` per line cannot read).
- Results are a JSON list of `{"question_id", "answer"}`, the layout of the
  other vlpk results files, rather than the reference's lines of
  `{"question", "answer"}`.
"""

import collections.abc
import json
import os

from vlpk.data.records.example import MissingFileError, get_field, read_json
from vlpk.errors import InputError, list_ids
from vlpk.metrics.result_files import read_vqa_predictions

LABELS = ("yes", "no")


def parse_yes_no(answer):
    """The reference's reading of a free-form answer as "yes" or "no".

    "no" when the first sentence (the text before the first period), with
    commas deleted and split on spaces, holds the word "No", "no" or "not";
    "yes" otherwise, including for answers with neither word (quirks 1-3 of
    the module doc).

    Args:
        answer: the model's answer, a string.

    Returns:
        `"yes"` or `"no"`.

    Raises:
        InputError: (a `ValueError`) when `answer` is not a string.

    Example:
    >>> parse_yes_no("No, there is not.")
    'no'
    >>> parse_yes_no("Yes. There is no dog.")
    'yes'
    >>> parse_yes_no("NO"), parse_yes_no("I don't know")
    ('yes', 'yes')
    """
    if not isinstance(answer, str):
        raise InputError(
            f"An answer should be a string, got {type(answer).__name__}: {answer!r}."
        )
    text = answer
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    if "No" in words or "not" in words or "no" in words:
        return "no"
    return "yes"


def pope_scores(questions, predictions):
    """POPE's accuracy, precision, recall, F1 and yes-ratio, "yes" positive.

    Args:
        questions: POPE question records, `[{"question_id": int, "label":
            "yes" | "no", ...}]` (`image` and `text` are not needed to score).
        predictions: `[{"question_id": int, "answer": str}]`, or a mapping
            `{question_id: answer}` (as `read_vqa_predictions` returns), one
            answer for every question.

    Returns:
        `{"accuracy", "precision", "recall", "f1", "yes_ratio"}` as fractions
        (unrounded, as the reference prints them), with the counts `"tp"`,
        `"fp"`, `"tn"`, `"fn"` and `"total"` (the number of questions).

    Raises:
        InputError: (a `ValueError`) for a malformed record, a repeated or
            unknown question id, a question without an answer, a label other
            than "yes" or "no", or no questions at all.

    Example:
    >>> questions = [{"question_id": 1, "label": "yes"},
    ...              {"question_id": 2, "label": "no"},
    ...              {"question_id": 3, "label": "no"}]
    >>> answers = [{"question_id": 1, "answer": "Yes, there is."},
    ...            {"question_id": 2, "answer": "There is a cat."},
    ...            {"question_id": 3, "answer": "No."}]
    >>> scores = pope_scores(questions, answers)
    >>> scores["tp"], scores["fp"], scores["tn"], scores["fn"]
    (1, 1, 1, 0)
    >>> round(scores["accuracy"], 4), scores["precision"], scores["recall"]
    (0.6667, 0.5, 1.0)
    """
    labels = _labels(questions)
    answers = _answers(predictions)
    _check_ids(answers, labels)
    tp = fp = tn = fn = 0
    yes = 0
    for question_id, label in labels.items():
        said_yes = parse_yes_no(answers[question_id]) == "yes"
        yes += said_yes
        if said_yes:
            tp, fp = (tp + 1, fp) if label == "yes" else (tp, fp + 1)
        else:
            tn, fn = (tn + 1, fn) if label == "no" else (tn, fn + 1)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "yes_ratio": yes / len(labels),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "total": len(labels),
    }


def read_pope_questions(path):
    """POPE question records from a question file, checked.

    Args:
        path: a POPE question file: one JSON object per line (as POPE's
            `pope()` and `vlpk.data.shapes.pope` write them; blank lines are
            skipped), or a JSON list of the same objects. Each object has
            `question_id` (int), `image` (str), `text` (str) and `label`
            ("yes" or "no").

    Returns:
        The records, in file order.

    Raises:
        MissingFileError: (an `InputError`) when the file does not exist.
        InputError: (a `ValueError`) when a line is not JSON, a record lacks a
            field or has the wrong type, a label is not "yes" or "no", a
            question id repeats, or the file holds no question.

    Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pope_random.jsonl")
    >>> with open(path, "w") as f:
    ...     print(json.dumps({"question_id": 1, "image": "1.jpg",
    ...         "text": "Is there a red circle in the image?",
    ...         "label": "yes"}), file=f)
    >>> read_pope_questions(path)[0]["label"]
    'yes'
    """
    path = os.fspath(path)
    records = _read_records(path)
    first = {}
    for where, record in records:
        question_id = get_field(record, "question_id", path, where, int)
        for key in ("image", "text", "label"):
            get_field(record, key, path, where, str)
        _check_label(record["label"], f"{path}: {where}")
        if question_id in first:
            raise InputError(
                f"{path}: {where} repeats question_id {question_id} (first at "
                f"{first[question_id]}); each question needs its own id."
            )
        first[question_id] = where
    if not records:
        raise InputError(f"{path}: the POPE question file holds no question.")
    return [record for _, record in records]


def evaluate_pope_files(predictions, questions):
    """POPE scores of a results file against a POPE question file.

    Args:
        predictions: path of a JSON list of `{"question_id", "answer"}`.
        questions: path of a POPE question file (`read_pope_questions`).

    Returns:
        The dict of `pope_scores`.

    Raises:
        InputError: (a `ValueError`) for a malformed file, or when the results
            do not answer exactly the file's questions.

    Example:
    >>> import json, tempfile
    >>> from vlpk.data.shapes.pope import shapes_scenes, write_pope_files
    >>> from vlpk.data.synthetic import generate_examples
    >>> folder = tempfile.mkdtemp()
    >>> scenes = shapes_scenes(generate_examples(6, image_size=24))
    >>> questions = write_pope_files(scenes, folder)["adversarial"]
    >>> results = os.path.join(folder, "results.json")
    >>> with open(results, "w") as f:  # a model that always says yes
    ...     json.dump([{"question_id": q["question_id"], "answer": "Yes, there is."}
    ...                for q in read_pope_questions(questions)], f)
    >>> print(pope_table(evaluate_pope_files(results, questions)))
    POPE (%), 20 questions (TP 10, FP 10, TN 0, FN 0)
    accuracy    50.00
    precision   50.00
    recall     100.00
    f1          66.67
    yes ratio  100.00
    """
    records = read_pope_questions(questions)
    answers = read_vqa_predictions(predictions, "POPE results")
    try:
        return pope_scores(records, answers)
    except InputError as error:
        raise InputError(f"{predictions} (against {questions}): {error}") from None


def pope_table(scores):
    """A printable table of `pope_scores`, in percent as the paper reports them.

    Example:
    >>> print(pope_table({"accuracy": 0.75, "precision": 2 / 3, "recall": 1.0,
    ...     "f1": 0.8, "yes_ratio": 0.75, "tp": 2, "fp": 1, "tn": 1, "fn": 0,
    ...     "total": 4}))
    POPE (%), 4 questions (TP 2, FP 1, TN 1, FN 0)
    accuracy    75.00
    precision   66.67
    recall     100.00
    f1          80.00
    yes ratio   75.00
    """
    counts = ", ".join(
        f"{key.upper()} {scores[key]}" for key in ("tp", "fp", "tn", "fn")
    )
    lines = [f"POPE (%), {scores['total']} questions ({counts})"]
    for key in ("accuracy", "precision", "recall", "f1", "yes_ratio"):
        lines.append(f"{key.replace('_', ' '):<9} {100 * scores[key]:7.2f}")
    return "\n".join(lines)


def _ratio(numerator, denominator):
    # The reference divides unguarded and raises on 0/0 (module doc).
    return float(numerator) / float(denominator) if denominator else 0.0


def _check_label(label, where):
    if label not in LABELS:
        raise InputError(
            f"{where} has label {label!r}; a POPE label is 'yes' (the object is "
            "in the image) or 'no'."
        )


def _labels(questions):
    """`{question_id: label}` from question records, each checked."""
    if isinstance(questions, (str, bytes, os.PathLike)) or not isinstance(
        questions, collections.abc.Iterable
    ):
        raise InputError(
            "questions should be a list of POPE question records; to score a "
            "file, use evaluate_pope_files or read_pope_questions."
        )
    labels = {}
    for i, record in enumerate(questions):
        where = f"questions[{i}]"
        question_id = get_field(record, "question_id", "questions", where, int)
        label = get_field(record, "label", "questions", where, str)
        _check_label(label, f"questions: {where}")
        if question_id in labels:
            raise InputError(f"questions: {where} repeats question_id {question_id}.")
        labels[question_id] = label
    if not labels:
        raise InputError("There are no POPE questions to score.")
    return labels


def _answers(predictions):
    """`{question_id: answer}` from a mapping or a list of result records."""
    if isinstance(predictions, collections.abc.Mapping):
        return dict(predictions)
    answers = {}
    for i, record in enumerate(predictions):
        where = f"predictions[{i}]"
        question_id = get_field(record, "question_id", "predictions", where, int)
        if question_id in answers:
            raise InputError(
                f"predictions: {where} repeats question_id {question_id}; "
                "give one answer per question."
            )
        answers[question_id] = get_field(record, "answer", "predictions", where, str)
    return answers


def _check_ids(answers, labels):
    unknown = [qid for qid in answers if qid not in labels]
    if unknown:
        raise InputError(
            f"{len(unknown)} answer(s) have a question id that is not in the POPE "
            f"questions: {list_ids(unknown)}. Answer the questions of the file "
            "you score against (random, popular and adversarial files differ)."
        )
    missing = [qid for qid in labels if qid not in answers]
    if missing:
        raise InputError(
            f"The answers miss {len(missing)} of the {len(labels)} POPE "
            f"questions, e.g. {list_ids(missing)}. POPE scores every question: "
            "answer them all."
        )


def _read_records(path):
    """`[(where, record)]` from a JSON-lines file, or from a JSON list."""
    if not os.path.isfile(path):
        raise MissingFileError(f"POPE question file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: is not a UTF-8 text file ({error}).") from None
    if text.lstrip().startswith("["):
        records = read_json(path, "POPE questions")
        return [(f"record {i}", record) for i, record in enumerate(records)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as error:
            raise InputError(
                f"{path}: line {number} is not valid JSON ({error}). A POPE "
                "question file holds one JSON object per line."
            ) from None
    return records
