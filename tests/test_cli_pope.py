"""`vlpk evaluate pope` on POPE files built from Shapes scenes."""

import json

from vlpk.cli import main
from vlpk.data.shapes.generator import generate_examples
from vlpk.data.shapes.pope import shapes_scenes, write_pope_files
from vlpk.metrics.pope import read_pope_questions


def evaluate(questions, predictions, *flags):
    return main(
        [
            "evaluate",
            "pope",
            "--questions",
            str(questions),
            "--predictions",
            str(predictions),
            *flags,
        ]
    )


def write_answers(path, questions, answer):
    records = [
        {"question_id": q["question_id"], "answer": answer(q)} for q in questions
    ]
    path.write_text(json.dumps(records))
    return path


def test_evaluate_pope(tmp_path, capsys):
    scenes = shapes_scenes(generate_examples(10, seed=0, image_size=32))
    paths = write_pope_files(scenes, tmp_path / "pope")
    questions = read_pope_questions(paths["adversarial"])
    # Right on the "yes" questions, "yes" to the first "no" one: one FP.
    first_no = next(q["question_id"] for q in questions if q["label"] == "no")

    def answer(q):
        if q["label"] == "yes" or q["question_id"] == first_no:
            return "Yes, there is."
        return "No, there is not."

    answers = write_answers(tmp_path / "results.json", questions, answer)
    out = tmp_path / "out" / "pope.json"
    assert evaluate(paths["adversarial"], answers, "--json", str(out)) == 0
    scores = json.loads(out.read_text())
    half = len(questions) // 2
    assert (scores["tp"], scores["fp"], scores["tn"], scores["fn"]) == (
        half,
        1,
        half - 1,
        0,
    )
    assert scores["total"] == len(questions)
    assert scores["recall"] == 1.0
    assert scores["precision"] == half / (half + 1)
    assert scores["yes_ratio"] == (half + 1) / len(questions)
    printed = capsys.readouterr().out
    assert printed.startswith(f"POPE (%), {len(questions)} questions (TP {half}, FP 1")
    assert "yes ratio" in printed


def test_bad_input_exits_2(tmp_path, capsys):
    scenes = shapes_scenes(generate_examples(10, seed=0, image_size=32))
    paths = write_pope_files(scenes, tmp_path / "pope")
    questions = read_pope_questions(paths["random"])
    answers = write_answers(tmp_path / "results.json", questions[1:], lambda q: "no")
    assert evaluate(paths["random"], answers) == 2
    error = capsys.readouterr().err
    assert error.startswith("vlpk evaluate: error: ")
    assert "miss 1 of the" in error
    assert evaluate(tmp_path / "nope.jsonl", answers) == 2
    assert "POPE question file not found" in capsys.readouterr().err
