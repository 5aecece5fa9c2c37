"""POPE scores: the reference's answer parsing, hand-computed metrics, bad input.

The expected values come from POPE's `evaluate.py` (github.com/AoiDragon/POPE
at 08d957b), worked by hand; `reference_parse` below is its parsing loop,
copied (MIT license, Copyright (c) 2024 Yifan Li) so each parsing case is
also checked against the reference itself.
"""

import json
import re

import pytest

from vlpk.errors import InputError
from vlpk.metrics import pope_scores
from vlpk.metrics.pope import (
    evaluate_pope_files,
    parse_yes_no,
    pope_table,
    read_pope_questions,
)
from vlpk.metrics.result_files import read_vqa_predictions


def reference_parse(text):
    """The body of evaluate.py's `for answer in answers:` loop, verbatim."""
    # Only keep the first sentence
    if text.find(".") != -1:
        text = text.split(".")[0]

    text = text.replace(",", "")
    words = text.split(" ")
    if "No" in words or "not" in words or "no" in words:
        return "no"
    else:
        return "yes"


PARSING = [
    ("Yes", "yes"),
    ("Yes, there is a red circle in the image.", "yes"),
    ("No.", "no"),
    ("no", "no"),
    ("No, there is not.", "no"),
    ("There is no dog in the image.", "no"),
    ("I do not see a dog.", "no"),
    # Only the first sentence counts.
    ("Yes. There is no dog.", "yes"),
    ("There is a dog. No, wait.", "yes"),
    ("...no", "yes"),
    # Whole words, case-sensitive: these are all yes.
    ("NO", "yes"),
    ("Not at all", "yes"),
    ("No!", "yes"),
    ("Nope", "yes"),
    ("None", "yes"),
    ("There isn't one", "yes"),
    ("I don't think so", "yes"),
    # Commas are deleted, not spaced; only a space separates words.
    ("No,there is", "yes"),
    ("yes,no", "yes"),
    ("no\nthere is", "yes"),
    ("no\tthere is", "yes"),
    ("well, no", "no"),
    # Neither word, or nothing at all: a yes.
    ("There is a red circle", "yes"),
    ("Maybe", "yes"),
    ("", "yes"),
]


@pytest.mark.parametrize("answer, expected", PARSING)
def test_parse_yes_no_follows_the_reference(answer, expected):
    assert parse_yes_no(answer) == expected
    assert reference_parse(answer) == expected


def test_parse_yes_no_needs_a_string():
    with pytest.raises(InputError, match="should be a string, got NoneType"):
        parse_yes_no(None)


def question(question_id, label):
    return {
        "question_id": question_id,
        "image": f"{question_id:012d}.jpg",
        "text": "Is there a red circle in the image?",
        "label": label,
    }


# Five "yes" questions, three "no" ones, answered as a model might.
LABELS = ["yes"] * 5 + ["no"] * 3
QUESTIONS = [question(i, label) for i, label in enumerate(LABELS, start=1)]
ANSWERS = {
    1: "Yes",  # TP
    2: "Yes, there is.",  # TP
    3: "There is a red circle.",  # TP: neither word is a yes
    4: "No.",  # FN
    5: "There is no red circle",  # FN
    6: "Yes",  # FP
    7: "No, there is not.",  # TN
    8: "I do not see one",  # TN
}


def test_scores_by_hand():
    scores = pope_scores(QUESTIONS, ANSWERS)
    counts = {key: scores[key] for key in ("tp", "fp", "tn", "fn", "total")}
    assert counts == {"tp": 3, "fp": 1, "tn": 2, "fn": 2, "total": 8}
    # "yes" is positive: with "no" positive, precision 2/4 and recall 2/3.
    assert scores["precision"] == 3 / 4
    assert scores["recall"] == 3 / 5
    assert scores["accuracy"] == 5 / 8
    # The reference's expression, so even the rounding is the same.
    assert scores["f1"] == 2 * 0.75 * 0.6 / (0.75 + 0.6)
    assert scores["f1"] == pytest.approx(2 / 3)
    # The share of answers read as yes, not the share of "yes" labels (5/8).
    assert scores["yes_ratio"] == 4 / 8


def test_answers_are_matched_by_id_not_by_order():
    records = [{"question_id": i, "answer": ANSWERS[i]} for i in reversed(ANSWERS)]
    assert pope_scores(QUESTIONS, records) == pope_scores(QUESTIONS, ANSWERS)


def test_all_no_answers_give_zero_not_a_division_error():
    scores = pope_scores(QUESTIONS, {i: "No" for i in ANSWERS})
    assert (scores["tp"], scores["fp"], scores["tn"], scores["fn"]) == (0, 0, 3, 5)
    assert scores["precision"] == 0.0
    assert scores["f1"] == 0.0
    assert scores["yes_ratio"] == 0.0
    assert scores["accuracy"] == 3 / 8


def test_always_yes():
    scores = pope_scores(QUESTIONS, {i: "Sure" for i in ANSWERS})
    assert scores["yes_ratio"] == 1.0
    assert scores["recall"] == 1.0
    assert scores["precision"] == 5 / 8


@pytest.mark.parametrize(
    "answers, pattern",
    [
        ({**ANSWERS, 99: "Yes"}, "1 answer\\(s\\) have a question id that is not"),
        ({i: a for i, a in ANSWERS.items() if i != 4}, "miss 1 of the 8 .* 4"),
        ({**ANSWERS, 1: 3}, "should be a string, got int"),
    ],
)
def test_bad_answers(answers, pattern):
    with pytest.raises(InputError, match=pattern):
        pope_scores(QUESTIONS, answers)


@pytest.mark.parametrize(
    "questions, pattern",
    [
        ([question(1, "No")], "questions\\[0\\] has label 'No'"),
        ([question(1, "maybe")], "has label 'maybe'"),
        ([question(1, "yes"), question(1, "no")], "questions\\[1\\] repeats"),
        ([{"label": "yes"}], "missing the required key 'question_id'"),
        ([], "no POPE questions"),
        ("pope_random.jsonl", "evaluate_pope_files"),
    ],
)
def test_bad_questions(questions, pattern):
    with pytest.raises(InputError, match=pattern):
        pope_scores(questions, {1: "yes"})


def test_repeated_prediction_record():
    answers = [{"question_id": 1, "answer": "yes"}] * 2
    with pytest.raises(InputError, match="predictions\\[1\\] repeats question_id 1"):
        pope_scores([question(1, "yes")], answers)


# --- files ------------------------------------------------------------------


def write_lines(folder, records, name="pope_random.jsonl", blank=False):
    lines = [json.dumps(r) for r in records]
    if blank:
        lines.insert(1, "")
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_read_questions_json_lines_and_json_list(tmp_path):
    path = write_lines(tmp_path, QUESTIONS, blank=True)
    assert read_pope_questions(path) == QUESTIONS
    # POPE's output/seem files are pretty-printed JSON lists.
    listed = tmp_path / "gqa_pope_seem_random.json"
    listed.write_text(json.dumps(QUESTIONS, indent=4))
    assert read_pope_questions(listed) == QUESTIONS


@pytest.mark.parametrize(
    "lines, pattern",
    [
        (['{"question_id": 1,'], "line 1 is not valid JSON"),
        ([json.dumps(question(1, "yes")), "{oops}"], "line 2 is not valid JSON"),
        (
            [json.dumps({"question_id": 1, "label": "yes"})],
            "line 1 is missing .*'image'",
        ),
        ([json.dumps(question(1, "Yes"))], "line 1 has label 'Yes'"),
        (
            [json.dumps({**question(1, "yes"), "question_id": "1"})],
            "line 1\\['question_id'\\] .* int, got str",
        ),
        ([json.dumps(question(3, "yes"))] * 2, "line 2 repeats question_id 3 .*line 1"),
        (["", " "], "the POPE question file holds no question"),
        (["[1]"], "record 0 should be a JSON object"),
    ],
)
def test_read_questions_errors_name_the_file_and_line(tmp_path, lines, pattern):
    path = tmp_path / "pope.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: ") + pattern):
        read_pope_questions(path)


def test_read_questions_missing_file(tmp_path):
    with pytest.raises(InputError, match="POPE question file not found"):
        read_pope_questions(tmp_path / "nope.jsonl")


def test_read_predictions(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"question_id": 2, "answer": "No."}]))
    assert read_vqa_predictions(str(path), "POPE results") == {2: "No."}
    path.write_text(json.dumps({"question_id": 2, "answer": "No."}))
    with pytest.raises(InputError, match="POPE results file should hold a JSON list"):
        read_vqa_predictions(str(path), "POPE results")


def test_evaluate_files_and_table(tmp_path):
    questions = write_lines(tmp_path, QUESTIONS)
    results = tmp_path / "results.json"
    records = [{"question_id": i, "answer": a} for i, a in ANSWERS.items()]
    results.write_text(json.dumps(records))
    scores = evaluate_pope_files(str(results), questions)
    assert scores == pope_scores(QUESTIONS, ANSWERS)
    assert pope_table(scores).split("\n") == [
        "POPE (%), 8 questions (TP 3, FP 1, TN 2, FN 2)",
        "accuracy    62.50",
        "precision   75.00",
        "recall      60.00",
        "f1          66.67",
        "yes ratio   50.00",
    ]
    results.write_text(json.dumps(records[1:]))
    with pytest.raises(InputError, match=re.escape(f"{results} (against {questions})")):
        evaluate_pope_files(str(results), questions)
