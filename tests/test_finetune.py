"""`vlpk finetune` and `vlpk evaluate` end to end, on a smoke ALBEF run."""

import json

import numpy as np
import pytest

from vlpk.cli import main
from vlpk.models import load_task

# The session's smoke pretraining runs (the `pretrain_runs` fixture) start once:
# under pytest-xdist, every test that reads them runs on the same worker.
pytestmark = pytest.mark.xdist_group("pretrain_runs")

ALBEF = "training/configs/shapes_albef.py"


@pytest.fixture(scope="module")
def run_dir(pretrain_runs):
    # The session's smoke ALBEF run (`tests/pretrain_runs.py`), 12 test
    # images; fine-tuning only reads it.
    return pretrain_runs["workdir"]


def finetune(run_dir, workdir, task, *extra):
    args = ["finetune", "--task", task, "--from", str(run_dir), "--smoke"]
    return main(args + ["--workdir", str(workdir), *extra])


def test_vqa_results_match_the_official_evaluation(run_dir, tmp_path, capsys):
    assert finetune(run_dir, tmp_path / "vqa", "vqa") == 0
    metrics = json.loads((tmp_path / "vqa" / "metrics.json").read_text())
    results = json.loads((tmp_path / "vqa" / "vqa_results.json").read_text())
    questions = json.loads(
        (run_dir / "shapes/annotations/vqa_test_questions.json").read_text()
    )["questions"]
    # The official results format, one answer per test question.
    assert sorted(r["question_id"] for r in results) == sorted(
        q["question_id"] for q in questions
    )
    assert all(set(r) == {"question_id", "answer"} for r in results)
    answers = set(json.loads((tmp_path / "vqa" / "answers.json").read_text()))
    assert {r["answer"] for r in results} <= answers
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "vqa",
            "--predictions",
            str(tmp_path / "vqa" / "vqa_results.json"),
            "--questions",
            str(run_dir / "shapes/annotations/vqa_test_questions.json"),
            "--annotations",
            str(run_dir / "shapes/annotations/vqa_test_annotations.json"),
            "--json",
            str(tmp_path / "vqa.json"),
        ]
    )
    assert code == 0
    written = json.loads((tmp_path / "vqa.json").read_text())
    assert written["overall"] == metrics["vqa"]["overall"]
    assert set(written["perAnswerType"]) == {"yes/no", "number", "other"}
    assert "overall" in capsys.readouterr().out

    # The fine-tuned folder exports as a TF Serving version with `answer`...
    export_root = str(tmp_path / "saved")
    args = ["export", "--from", str(tmp_path / "vqa"), "--name", "vqa"]
    assert main(args + ["--export-dir", export_root]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["signatures"] == ["answer", "serving_default"]
    assert main(args + ["--export-dir", export_root, "--version", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # ...whose answer to a test question is the one in vqa_results.json.
    question = questions[0]
    image = run_dir / "shapes/images/test" / f"{question['image_id']:012d}.jpg"
    predict = ["predict", "--model", exported["path"], "--image", str(image)]
    assert main(predict + ["--question", question["question"]]) == 0
    answer = json.loads(capsys.readouterr().out)["answer"]
    by_id = {r["question_id"]: r["answer"] for r in results}
    assert answer == by_id[question["question_id"]]


def test_caption_finetune_writes_coco_results_and_scores(run_dir, tmp_path):
    assert finetune(run_dir, tmp_path / "cap", "caption") == 0
    metrics = json.loads((tmp_path / "cap" / "metrics.json").read_text())
    results = json.loads((tmp_path / "cap" / "caption_results.json").read_text())
    assert len(results) == 12 and all(
        set(r) == {"image_id", "caption"} for r in results
    )
    keys = {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"}
    assert keys <= set(metrics["caption"])
    # The KerasHub BLEU monitoring metric was logged each epoch.
    assert len(metrics["train_history"]["val_bleu4"]) == 1
    # The fine-tuned captioner is a preset that captions raw image bytes.
    task = load_task(tmp_path / "cap" / "preset")
    image = next((run_dir / "shapes/images/test").iterdir()).read_bytes()
    assert isinstance(task.generate(image), str)


def test_retrieval_finetune_and_evaluate_agree(run_dir, tmp_path):
    assert finetune(run_dir, tmp_path / "ret", "retrieval") == 0
    metrics = json.loads((tmp_path / "ret" / "metrics.json").read_text())
    assert metrics["rerank_k"] == 4
    assert set(metrics["reranked"]) == set(metrics["contrastive"])
    # The fine-tuned folder is a run folder: `vlpk evaluate` reads it back.
    out = tmp_path / "eval.json"
    args = ["evaluate", "retrieval", "--from", str(tmp_path / "ret")]
    assert main(args + ["--rerank-k", "4", "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    for key in ("contrastive", "reranked"):
        for name, value in metrics[key].items():
            assert again[key][name] == pytest.approx(value, abs=1e-4), (key, name)


def test_linear_probe_leaves_the_encoder_alone(run_dir, tmp_path):
    assert (
        finetune(run_dir, tmp_path / "lp", "classify", "--set", "linear_probe=true")
        == 0
    )
    metrics = json.loads((tmp_path / "lp" / "metrics.json").read_text())
    assert {"zero_shot", "linear_probe"} <= set(metrics)
    assert metrics["zero_shot"]["classes"] == 4 and "top1" in metrics["zero_shot"]
    source = load_task(run_dir / "preset").backbone
    probe = load_task(tmp_path / "lp" / "preset").backbone
    for a, b in zip(source.image_encoder.weights, probe.image_encoder.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # ...while the same command with fine-tuning changes it.
    assert finetune(run_dir, tmp_path / "ft", "classify") == 0
    tuned = load_task(tmp_path / "ft" / "preset").backbone
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(source.image_encoder.weights, tuned.image_encoder.weights)
    )


def test_scratch_baseline_starts_from_random_weights(run_dir, tmp_path):
    assert finetune(run_dir, tmp_path / "s", "classify", "--scratch") == 0
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["pretrained"] is False
    assert json.loads((tmp_path / "s" / "finetune.json").read_text())["scratch"]


def test_zeroshot_command(run_dir, tmp_path):
    out = tmp_path / "zs.json"
    args = ["evaluate", "zeroshot", "--from", str(run_dir), "--json", str(out)]
    assert main(args + ["--templates", "a photo of a {}.|a {}."]) == 0
    result = json.loads(out.read_text())["zero_shot"]
    assert result["templates"] == 2 and result["images"] == 12


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"question_id": 999999999, "answer": "red"}]', "999999999"),
        ('[{"question_id": 1, "answer": "red"', "JSON"),
        ('{"question_id": 1}', "list"),
    ],
)
def test_bad_vqa_predictions_exit_2(run_dir, tmp_path, capsys, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    code = main(
        [
            "evaluate",
            "vqa",
            "--predictions",
            str(path),
            "--questions",
            str(run_dir / "shapes/annotations/vqa_test_questions.json"),
            "--annotations",
            str(run_dir / "shapes/annotations/vqa_test_annotations.json"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "p.json" in err


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"image_id": 123456789, "caption": "a red circle"}]', "123456789"),
        ("[{", "JSON"),
    ],
)
def test_bad_caption_predictions_exit_2(run_dir, tmp_path, capsys, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    references = run_dir / "shapes/annotations/captions_test.json"
    code = main(
        [
            "evaluate",
            "caption",
            "--predictions",
            str(path),
            "--references",
            str(references),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "p.json" in err


def test_bad_finetune_input_exits_2(tmp_path, capsys):
    assert main(["finetune", "--task", "vqa", "--from", str(tmp_path / "nope")]) == 2
    assert "No run folder" in capsys.readouterr().err
    code = main(
        ["finetune", "--task", "vqa", "--from", str(tmp_path), "--config", ALBEF]
    )
    assert code == 2
    assert "FinetuneConfig" in capsys.readouterr().err


# `vlpk export --tflite` end to end: about 25 s on two CPUs. The conversion
# and parity are tested in tests/export/test_tflite.py. `pytest -m slow`.
@pytest.mark.slow
def test_tflite_export_command(run_dir, tmp_path, capsys):
    # The smoke run has a cross-attention matching head: five files, int8
    # calibrated on its training split, parity on its validation split.
    args = ["export", "--from", str(run_dir), "--name", "albef"]
    args += ["--export-dir", str(tmp_path), "--tflite", "int8"]
    assert main(args) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["path"] == str(tmp_path / "tflite" / "albef" / "int8")
    assert set(manifest["models"]) == {
        "image_encoder",
        "text_encoder",
        "matching_image_features",
        "matching_text_features",
        "fusion_scorer",
    }
    for entry in manifest["models"].values():
        assert (tmp_path / "tflite" / "albef" / "int8" / entry["file"]).stat().st_size
    assert manifest["parity"]["examples"] == "held out"
    assert manifest["float_ops"] and manifest["normalized"] is False
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
