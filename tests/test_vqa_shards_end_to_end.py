"""VQA v2-style files, through the CLI only: convert, fine-tune, score, export.

Shapes writes its VQA splits in VQA v2's two-file format. They are converted
to shards (one record an image), a pretrained run is fine-tuned on them
(`--set data.train=...`), and the results are scored against the unpacked
test split's files, which must score as the original files do.
"""

import json
import os

import pytest

from vlpk.cli import main
from vlpk.data.synthetic import shapes_paths, write_shapes
from vlpk.metrics.result_files import evaluate_vqa_files

pytestmark = pytest.mark.xdist_group("pretrain_runs")
SPLITS = {"train": 24, "val": 6, "test": 8}


@pytest.fixture(scope="module")
def vqa_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa")
    write_shapes(root / "shapes", image_size=64, splits=SPLITS, progress=False)
    for split in SPLITS:
        paths = shapes_paths(root / "shapes", split)
        args = ["data", "convert", "--format", "vqa", "--split", split]
        args += ["--images", paths["images_dir"], "--out", str(root / split)]
        assert (
            main(args + ["--annotations", paths["questions"], paths["annotations"]])
            == 0
        )
    return root


def test_vqa_finetune_from_shards_scores_as_the_original_files(
    pretrain_runs, vqa_shards, tmp_path
):
    workdir = tmp_path / "vqa"
    args = ["finetune", "--task", "vqa", "--from", str(pretrain_runs["workdir"])]
    args += ["--smoke", "--workdir", str(workdir)]
    assert main(args + ["--set", f"data.train={vqa_shards / 'train'}"]) == 0
    with open(workdir / "metrics.json") as f:
        metrics = json.load(f)
    original = shapes_paths(vqa_shards / "shapes", "test")
    with open(original["questions"]) as f:
        asked = {q["question_id"] for q in json.load(f)["questions"]}
    with open(workdir / "vqa_results.json") as f:
        answered = {r["question_id"] for r in json.load(f)}
    assert answered == asked  # every test question, from the unpacked split
    results = str(workdir / "vqa_results.json")
    official = evaluate_vqa_files(
        results, original["questions"], original["annotations"]
    )
    assert metrics["vqa"] == official  # per answer and question type too
    assert len(official["perQuestionType"]) > 1
    saved = tmp_path / "saved"
    export = ["export", "--from", str(workdir), "--name", "shapes_vqa"]
    assert main(export + ["--export-dir", str(saved)]) == 0
    assert os.path.isfile(saved / "shapes_vqa" / "1" / "saved_model.pb")
