"""Tests for the COCO captions, VQA v2 and labels readers on hand-made files."""

import json
import os
import re

import pytest

from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.records.example import Example
from vlpk.data.synthetic import read_labels
from vlpk.errors import InputError


def write_json(path, data):
    path.write_text(json.dumps(data))
    return path


def coco_captions():
    return {
        "info": {"description": "test"},
        "images": [
            {"id": 5, "file_name": "b.jpg", "width": 8, "height": 8},
            {"id": 2, "file_name": "a.jpg", "width": 8, "height": 8},
            {"id": 9, "file_name": "uncaptioned.jpg", "width": 8, "height": 8},
        ],
        "annotations": [
            {"id": 1, "image_id": 5, "caption": "b first"},
            {"id": 2, "image_id": 2, "caption": "a first"},
            {"id": 3, "image_id": 5, "caption": "b second"},
        ],
    }


def vqa_questions(data_type="mscoco", subtype="val2014"):
    return {
        "info": {},
        "task_type": "Open-Ended",
        "data_type": data_type,
        "data_subtype": subtype,
        "questions": [
            {"image_id": 42, "question": "What color?", "question_id": 42000},
            {"image_id": 7, "question": "How many?", "question_id": 7001},
        ],
    }


def vqa_annotation(question_id, image_id, answer, answer_type):
    answers = [answer] * 9 + ["other"]
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": "what",
        "answer_type": answer_type,
        "multiple_choice_answer": answer,
        "answers": [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
            for i, a in enumerate(answers)
        ],
    }


def vqa_annotations():
    return {
        "info": {},
        "data_subtype": "val2014",
        "annotations": [
            vqa_annotation(7001, 7, "2", "number"),
            vqa_annotation(42000, 42, "red", "other"),
        ],
    }


# --- COCO captions -----------------------------------------------------------


def test_read_coco_captions(tmp_path):
    path = write_json(tmp_path / "captions.json", coco_captions())
    examples = read_coco_captions(path, "imgs")
    assert examples == [
        Example(os.path.join("imgs", "a.jpg"), 2, ("a first",)),
        Example(os.path.join("imgs", "b.jpg"), 5, ("b first", "b second")),
    ]


def test_coco_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(
        FileNotFoundError, match=f"COCO captions.*{re.escape(str(path))}"
    ):
        read_coco_captions(path, "imgs")


def test_coco_malformed_json(tmp_path):
    path = tmp_path / "captions.json"
    path.write_text('{"images": [')
    with pytest.raises(ValueError, match="captions.json: is not a valid COCO"):
        read_coco_captions(path, "imgs")


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d: d.pop("annotations"), r"top level is missing .*'annotations'"),
        (lambda d: d["images"][1].pop("file_name"), r"images\[1\].*'file_name'"),
        (lambda d: d["annotations"][2].pop("caption"), r"annotations\[2\].*'caption'"),
        (lambda d: d["images"][0].update(id="5"), r"images\[0\]\['id'\].*int"),
        (lambda d: d.update(images={}), r"'images'\] should be of type list"),
        (lambda d: d["annotations"][0].update(image_id=3), "image_id 3.*not listed"),
        (lambda d: d["images"][1].update(id=5), "repeats image id 5"),
    ],
)
def test_coco_bad_fields(tmp_path, corrupt, match):
    data = coco_captions()
    corrupt(data)
    path = write_json(tmp_path / "captions.json", data)
    with pytest.raises(ValueError, match=match):
        read_coco_captions(path, "imgs")


def test_errors_are_input_errors_for_the_cli(tmp_path):
    # The CLI turns InputError into exit code 2 (bad input), not a crash.
    with pytest.raises(InputError):
        read_coco_captions(tmp_path / "missing.json", "imgs")
    path = write_json(tmp_path / "captions.json", {"images": []})
    with pytest.raises(InputError, match="'annotations'"):
        read_coco_captions(path, "imgs")


def test_coco_top_level_must_be_an_object(tmp_path):
    path = write_json(tmp_path / "captions.json", [1, 2])
    with pytest.raises(ValueError, match="top level should be a JSON object"):
        read_coco_captions(path, "imgs")


# --- VQA v2 ------------------------------------------------------------------


def test_read_vqa_with_coco_file_names(tmp_path):
    questions = write_json(tmp_path / "q.json", vqa_questions())
    annotations = write_json(tmp_path / "a.json", vqa_annotations())
    first, second = read_vqa(questions, annotations, "val2014")
    assert first == Example(
        image_path=os.path.join("val2014", "COCO_val2014_000000000042.jpg"),
        image_id=42,
        captions=(),
        question="What color?",
        question_id=42000,
        answers=("red",) * 9 + ("other",),
        answer="red",
        answer_type="other",
        question_type="what",  # kept for the official per-type breakdown
    )
    assert (second.question_id, second.answer, second.answer_type) == (
        7001,
        "2",
        "number",
    )


def test_read_vqa_file_names_for_shapes_and_explicit_mapping(tmp_path):
    questions = write_json(tmp_path / "q.json", vqa_questions("shapes", "train"))
    annotations = write_json(tmp_path / "a.json", vqa_annotations())
    examples = read_vqa(questions, annotations, "imgs")
    assert examples[0].image_path == os.path.join("imgs", "000000000042.jpg")
    mapping = {42: "x.jpg", 7: "y.png"}
    examples = read_vqa(questions, annotations, "imgs", image_files=mapping)
    assert [e.image_path for e in examples] == [
        os.path.join("imgs", "x.jpg"),
        os.path.join("imgs", "y.png"),
    ]
    with pytest.raises(ValueError, match="image_id 7 is not in the `image_files`"):
        read_vqa(questions, annotations, "imgs", image_files={42: "x.jpg"})


def test_read_vqa_without_annotations(tmp_path):
    questions = write_json(tmp_path / "q.json", vqa_questions())
    examples = read_vqa(questions, None, "imgs")
    assert [e.question_id for e in examples] == [42000, 7001]
    assert all(e.answers == () and e.answer is None for e in examples)


def test_vqa_missing_files(tmp_path):
    questions = write_json(tmp_path / "q.json", vqa_questions())
    with pytest.raises(FileNotFoundError, match="VQA questions.*missing_q.json"):
        read_vqa(tmp_path / "missing_q.json", tmp_path / "a.json", "imgs")
    with pytest.raises(FileNotFoundError, match="VQA annotations.*missing_a.json"):
        read_vqa(questions, tmp_path / "missing_a.json", "imgs")


def test_vqa_malformed_json(tmp_path):
    questions = write_json(tmp_path / "q.json", vqa_questions())
    annotations = tmp_path / "a.json"
    annotations.write_text("not json")
    with pytest.raises(ValueError, match="a.json: is not a valid VQA annotations"):
        read_vqa(questions, annotations, "imgs")


@pytest.mark.parametrize(
    "corrupt_questions, corrupt_annotations, match",
    [
        (lambda d: d.pop("questions"), None, r"q.json: .*'questions'"),
        (
            lambda d: d["questions"][1].pop("question"),
            None,
            r"questions\[1\] is missing .*'question'",
        ),
        (
            None,
            lambda d: d["annotations"][0].pop("multiple_choice_answer"),
            r"a.json: annotations\[0\] is missing .*'multiple_choice_answer'",
        ),
        (
            None,
            lambda d: d["annotations"][1]["answers"][3].pop("answer"),
            r"annotations\[1\]\['answers'\]\[3\] is missing .*'answer'",
        ),
        (lambda d: d.pop("data_subtype"), None, "'data_subtype'.*image_files"),
        # The first question without an answer is named.
        (None, lambda d: d["annotations"].pop(1), "question_id 42000 .*no annotation"),
        (
            None,
            lambda d: d["annotations"].append(vqa_annotation(99, 42, "x", "other")),
            "question_id 99 .*no question",
        ),
        (
            None,
            lambda d: d["annotations"][0].update(image_id=8),
            "question_id 7001 has image_id 8",
        ),
        (
            lambda d: d["questions"].append(d["questions"][0]),
            None,
            "repeats question_id 42000",
        ),
    ],
)
def test_vqa_bad_fields(tmp_path, corrupt_questions, corrupt_annotations, match):
    questions, annotations = vqa_questions(), vqa_annotations()
    if corrupt_questions:
        corrupt_questions(questions)
    if corrupt_annotations:
        corrupt_annotations(annotations)
    with pytest.raises(ValueError, match=match):
        read_vqa(
            write_json(tmp_path / "q.json", questions),
            write_json(tmp_path / "a.json", annotations),
            "imgs",
        )


# --- labels ------------------------------------------------------------------


def test_read_labels(tmp_path):
    path = write_json(
        tmp_path / "labels.json",
        {"classes": ["a", "b"], "labels": [{"image_id": 3, "label": 1}]},
    )
    assert read_labels(path) == (["a", "b"], {3: 1})


@pytest.mark.parametrize(
    "data, match",
    [
        ({"labels": []}, "missing the required key 'classes'"),
        ({"classes": ["a"], "labels": [{"image_id": 1}]}, r"labels\[0\].*'label'"),
        ({"classes": ["a"], "labels": [{"image_id": 1, "label": 1}]}, "outside"),
        ({"classes": [1], "labels": []}, "list of strings"),
    ],
)
def test_labels_bad_fields(tmp_path, data, match):
    path = write_json(tmp_path / "labels.json", data)
    with pytest.raises(ValueError, match=match):
        read_labels(path)


def test_labels_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels file not found"):
        read_labels(tmp_path / "labels.json")
