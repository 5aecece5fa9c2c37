"""An image-folder classification set, through the CLI only.

The folders (one per class, Keras's layout) are converted to shards, a
pretrained run is fine-tuned on them (`vlpk finetune --task classify` with
`--set data.train=...`), zero-shot takes its classes and templates from the
data and a file, and the classifier exports.
"""

import json
import os

import pytest

from vlpk.cli import main
from vlpk.data.formats.labelled import read_image_folder
from vlpk.data.shapes.samples import write_image_folders

pytestmark = pytest.mark.xdist_group("pretrain_runs")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowers")
    write_image_folders(root / "raw", {"train": 24, "val": 8, "test": 8})
    for split in ("train", "val", "test"):
        args = ["data", "convert", "--format", "imagefolder", "--split", split]
        args += ["--images", str(root / "raw" / split)]
        assert main(args + ["--out", str(root / "shards" / split)]) == 0
    return root


def test_classify_finetune_on_an_image_folder_set(pretrain_runs, shards, tmp_path):
    run = pretrain_runs["workdir"]
    workdir = tmp_path / "classify"
    args = ["finetune", "--task", "classify", "--from", str(run), "--smoke"]
    args += ["--workdir", str(workdir)]
    assert main(args + ["--set", f"data.train={shards / 'shards' / 'train'}"]) == 0
    with open(workdir / "metrics.json") as f:
        metrics = json.load(f)
    _, names = read_image_folder(shards / "raw" / "train")
    assert metrics["class_names"] == names  # from the manifest, sorted
    assert metrics["finetuned"]["images"] == 8  # the test split's images
    assert metrics["zero_shot"]["classes"] == len(names)
    # The fine-tuned run folder records the data it was trained on.
    with open(workdir / "config.json") as f:
        assert json.load(f)["data"]["train"] == str(shards / "shards" / "train")
    saved = tmp_path / "saved"
    export = ["export", "--from", str(workdir), "--name", "flowers"]
    assert main(export + ["--export-dir", str(saved)]) == 0
    assert os.path.isfile(saved / "flowers" / "1" / "saved_model.pb")


def test_zeroshot_takes_classes_and_templates_from_files(
    pretrain_runs, shards, tmp_path
):
    run = pretrain_runs["workdir"]
    templates = tmp_path / "templates.txt"
    templates.write_text("a photo of a {}.\n\na {} shape.\n")
    out = tmp_path / "zeroshot.json"
    args = ["evaluate", "zeroshot", "--from", str(run), "--json", str(out)]
    args += [
        "--data",
        str(shards / "shards" / "test"),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(args + ["--templates-file", str(templates)]) == 0
    with open(out) as f:
        result = json.load(f)["zero_shot"]
    _, names = read_image_folder(shards / "raw" / "test")
    assert (result["templates"], result["classes"], result["images"]) == (2, 4, 8)
    assert sorted(result["per_class"]) == names
    templates.write_text("no placeholder\n")
    assert main(args + ["--templates-file", str(templates)]) == 2
    captioned = ["--data", str(tmp_path)]  # no manifest there
    assert main(args[:6] + captioned) == 2
