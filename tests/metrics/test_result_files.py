"""Reading the standard VQA and COCO caption files: errors and a round trip."""

import json
import re

import pytest

from vlpk.errors import InputError
from vlpk.metrics import result_files
from vlpk.metrics.result_files import (
    caption_table,
    evaluate_caption_files,
    evaluate_vqa_files,
    read_caption_predictions,
    read_caption_references,
    read_vqa_ground_truth,
    read_vqa_predictions,
    vqa_table,
)


def raises_about(path, pattern):
    """`pytest.raises` for an `InputError` whose message starts with `path`."""
    return pytest.raises(InputError, match=re.escape(path) + pattern)


def write(folder, name, data):
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def vqa_annotation(question_id, answers, answer_type, question_type="what"):
    return {
        "question_id": question_id,
        "image_id": question_id // 10,
        "question_type": question_type,
        "answer_type": answer_type,
        "multiple_choice_answer": answers[0],
        "answers": [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
            for i, a in enumerate(answers)
        ],
    }


@pytest.fixture
def vqa_files(tmp_path):
    questions = {
        "questions": [
            {"image_id": 1, "question": "Is it red?", "question_id": 10},
            {"image_id": 1, "question": "How many?", "question_id": 11},
            {"image_id": 2, "question": "What is it?", "question_id": 20},
        ]
    }
    annotations = {
        "annotations": [
            vqa_annotation(10, ["yes"] * 10, "yes/no", "is it"),
            vqa_annotation(11, ["2"] * 2 + ["3"] * 8, "number", "how many"),
            vqa_annotation(20, ["dog"] + ["cat"] * 9, "other", "what is"),
        ]
    }
    return (
        write(tmp_path, "questions.json", questions),
        write(tmp_path, "annotations.json", annotations),
    )


# --- VQA results ----------------------------------------------------------


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.json")
    with pytest.raises(InputError, match="file not found: " + re.escape(path)):
        read_vqa_predictions(path)


def test_malformed_json_gives_line_and_column(tmp_path):
    path = write(
        tmp_path,
        "results.json",
        '[{"question_id": 1, "answer": "yes"},\n {"question_id": 2 "answer": "no"}]',
    )
    with pytest.raises(InputError) as error:
        read_vqa_predictions(path)
    assert path in str(error.value)
    assert "not a valid VQA results JSON file" in str(error.value)
    assert "line 2 column 20" in str(error.value)


def test_wrong_top_level_type(tmp_path):
    path = write(tmp_path, "results.json", {"results": []})
    with raises_about(path, ": .*JSON list.*got a JSON object"):
        read_vqa_predictions(path)


def test_missing_field_names_the_record(tmp_path):
    path = write(
        tmp_path,
        "results.json",
        [{"question_id": 1, "answer": "yes"}, {"question_id": 2}],
    )
    with raises_about(path, ": record 1 is missing the required key 'answer'"):
        read_vqa_predictions(path)


def test_wrong_type_names_the_record(tmp_path):
    path = write(tmp_path, "results.json", [{"question_id": "1", "answer": "yes"}])
    with raises_about(path, ": record 0\\['question_id'\\] .* int, got str"):
        read_vqa_predictions(path)
    # A boolean is not an id.
    path = write(tmp_path, "results.json", [{"question_id": True, "answer": "yes"}])
    with pytest.raises(InputError, match="int, got bool"):
        read_vqa_predictions(path)
    path = write(tmp_path, "results.json", [{"question_id": 1, "answer": 2}])
    with pytest.raises(InputError, match=r"record 0\['answer'\] .* str, got int"):
        read_vqa_predictions(path)


def test_duplicate_question_id(tmp_path):
    records = [{"question_id": q, "answer": "yes"} for q in (1, 2, 1)]
    path = write(tmp_path, "results.json", records)
    with raises_about(path, ": record 2 repeats question_id 1 \\(first at record 0\\)"):
        read_vqa_predictions(path)


# --- VQA ground truth -----------------------------------------------------


def test_ground_truth_top_level_and_records(tmp_path, vqa_files):
    questions, annotations = vqa_files
    bad = write(tmp_path, "bad.json", [])
    with raises_about(bad, ": the top level should be a JSON object, got list"):
        read_vqa_ground_truth(bad, annotations)
    with raises_about(bad, ": the top level should be a JSON object"):
        read_vqa_ground_truth(questions, bad)
    record = vqa_annotation(10, ["yes"] * 10, "yes/no")
    record["answers"][3] = {"answer": 3}
    bad = write(tmp_path, "bad.json", {"annotations": [record]})
    with raises_about(
        bad, ": annotations\\[0\\]\\['answers'\\]\\[3\\]\\['answer'\\] .* str"
    ):
        read_vqa_ground_truth(questions, bad)
    del record["answers"]
    bad = write(tmp_path, "bad.json", {"annotations": [record]})
    with raises_about(bad, ": annotations\\[0\\] is missing .* 'answers'"):
        read_vqa_ground_truth(questions, bad)


def test_ground_truth_duplicates_and_mismatch(tmp_path, vqa_files):
    questions, annotations = vqa_files
    repeated = {"questions": [{"question_id": 10}, {"question_id": 10}]}
    bad = write(tmp_path, "bad.json", repeated)
    with raises_about(
        bad, ": questions\\[1\\] repeats question_id 10 \\(first at questions\\[0\\]\\)"
    ):
        read_vqa_ground_truth(bad, annotations)
    repeated = {"annotations": [vqa_annotation(10, ["yes"], "yes/no")] * 2}
    bad = write(tmp_path, "bad.json", repeated)
    with raises_about(bad, ": annotations\\[1\\] repeats question_id 10"):
        read_vqa_ground_truth(questions, bad)
    # The questions file has 10, 11, 20; these annotations 10 and 30.
    other = {
        "annotations": [
            vqa_annotation(10, ["yes"], "yes/no"),
            vqa_annotation(30, ["no"], "yes/no"),
        ]
    }
    bad = write(tmp_path, "bad.json", other)
    with pytest.raises(InputError) as error:
        read_vqa_ground_truth(questions, bad)
    message = str(error.value)
    assert questions in message and bad in message
    assert "2 only in the questions file (11, 20)" in message
    assert "1 only in the annotations file (30)" in message


def test_vqa_round_trip(tmp_path, vqa_files):
    questions, annotations = vqa_files
    truth = read_vqa_ground_truth(questions, annotations)
    assert list(truth) == [10, 11, 20]
    assert truth[11] == {
        "answers": ["2"] * 2 + ["3"] * 8,
        "answer_type": "number",
        "question_type": "how many",
    }
    records = [
        # Predictions are normalized, as officially: "Yes" -> "yes".
        {"question_id": 10, "answer": "Yes"},  # 10 x "yes": 1.0
        {"question_id": 11, "answer": "two"},  # "two" -> "2", 2 x "2": 0.6
        {"question_id": 20, "answer": "Dog."},  # "Dog." -> "dog", 1 x: 0.3
    ]
    predictions = write(tmp_path, "results.json", records)
    assert read_vqa_predictions(predictions) == {10: "Yes", 11: "two", 20: "Dog."}
    result = evaluate_vqa_files(predictions, questions, annotations)
    assert result == {
        "overall": 63.33,  # 100 * 1.9 / 3
        "perAnswerType": {"yes/no": 100.0, "number": 60.0, "other": 30.0},
        "perQuestionType": {"is it": 100.0, "how many": 60.0, "what is": 30.0},
        "questions": 3,
    }
    assert vqa_table(result) == (
        "VQA accuracy (%), 3 questions\n"
        "overall     63.33\n"
        "yes/no     100.00\n"
        "number      60.00\n"
        "other       30.00"
    )


def test_evaluate_vqa_files_names_the_files(tmp_path, vqa_files):
    questions, annotations = vqa_files
    records = [{"question_id": q, "answer": "yes"} for q in (10, 11, 20, 999)]
    predictions = write(tmp_path, "results.json", records)
    with pytest.raises(InputError) as error:
        evaluate_vqa_files(predictions, questions, annotations)
    message = str(error.value)
    assert predictions in message and annotations in message
    assert "not in the annotations: 999" in message
    predictions = write(tmp_path, "results.json", records[:1])
    with raises_about(predictions, " .*miss 2 of the 3"):
        evaluate_vqa_files(predictions, questions, annotations)


# --- COCO captions --------------------------------------------------------


def test_caption_predictions_errors(tmp_path):
    path = write(tmp_path, "captions.json", "[{]")
    with raises_about(
        path, ": is not a valid COCO caption results JSON.*line 1 column"
    ):
        read_caption_predictions(path)
    path = write(tmp_path, "captions.json", {"image_id": 1})
    with raises_about(path, ": .*JSON list"):
        read_caption_predictions(path)
    path = write(tmp_path, "captions.json", [{"image_id": 1}])
    with raises_about(path, ": record 0 is missing the required key 'caption'"):
        read_caption_predictions(path)
    records = [{"image_id": 1, "caption": "a"}, {"image_id": 1, "caption": "b"}]
    path = write(tmp_path, "captions.json", records)
    with raises_about(path, ": record 1 repeats image_id 1 .*one caption per image_id"):
        read_caption_predictions(path)


def test_caption_references_errors(tmp_path):
    path = write(tmp_path, "refs.json", {"images": []})
    with raises_about(
        path, ": the top level is missing the required key 'annotations'"
    ):
        read_caption_references(path)
    path = write(
        tmp_path, "refs.json", {"annotations": [{"image_id": 1, "caption": None}]}
    )
    with raises_about(path, ": annotations\\[0\\]\\['caption'\\] .* str, got NoneType"):
        read_caption_references(path)


def test_caption_round_trip(tmp_path, monkeypatch):
    references = {
        "images": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"image_id": 2, "id": 5, "caption": "a cat"},
            {"image_id": 1, "id": 6, "caption": "a dog"},
            {"image_id": 2, "id": 7, "caption": "a kitten"},
        ],
    }
    refs_path = write(tmp_path, "refs.json", references)
    preds_path = write(tmp_path, "preds.json", [{"image_id": 2, "caption": "cat"}])
    assert read_caption_references(refs_path) == {
        2: ["a cat", "a kitten"],
        1: ["a dog"],
    }
    assert read_caption_predictions(preds_path) == {2: "cat"}

    # The scoring itself is tested against pycocoevalcap; here only the
    # plumbing, without Java.
    def fake_scores(refs, candidates):
        assert refs == {2: ["a cat", "a kitten"], 1: ["a dog"]}
        assert candidates == {2: "cat"}
        return {"Bleu_1": 0.5, "Bleu_4": 0.30512, "CIDEr": 0.853}

    monkeypatch.setattr(result_files, "coco_caption_scores", fake_scores)
    scores = evaluate_caption_files(preds_path, refs_path)
    assert scores == {"Bleu_1": 0.5, "Bleu_4": 0.30512, "CIDEr": 0.853, "images": 1}
    assert caption_table(scores) == (
        "Caption scores (x100), 1 images\n"
        "Bleu_1     50.0\n"
        "Bleu_4     30.5\n"
        "CIDEr      85.3"
    )


def test_evaluate_caption_files_names_the_files(tmp_path):
    refs_path = write(
        tmp_path, "refs.json", {"annotations": [{"image_id": 1, "caption": "a dog"}]}
    )
    preds_path = write(tmp_path, "preds.json", [{"image_id": 9, "caption": "a cat"}])
    # Raised before any Java runs.
    with pytest.raises(InputError) as error:
        evaluate_caption_files(preds_path, refs_path)
    message = str(error.value)
    assert preds_path in message and refs_path in message
    assert "have no reference captions: 9" in message
