"""A user's own captioned data, through the CLI only: the Flickr8k path.

Flickr8k-style files (images and Karpathy's `dataset_flickr8k.json`, written
by the test) are converted to shards, then `vlpk pretrain` trains an ALBEF
smoke model from the train shards, `vlpk evaluate retrieval` scores its
Karpathy test split, `vlpk finetune --task caption` scores captions with
pycocoevalcap, and `vlpk export` writes the SavedModel.
"""

import json
import os

import pytest

from vlpk.cli import main
from vlpk.data.shapes.samples import write_flickr8k

ALBEF = "training/configs/shapes_albef.py"
SPLITS = {"train": 24, "val": 6, "test": 6}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """`(root, run folder, pretrain metrics)` of an ALBEF smoke run on shards."""
    root = tmp_path_factory.mktemp("flickr8k")
    path, images = write_flickr8k(root, SPLITS)
    shards = root / "shards" / "flickr8k"
    convert = ["data", "convert", "--format", "karpathy", "--images", str(images)]
    convert += ["--annotations", str(path), "--out", str(shards), "--shard-size", "8"]
    assert main(convert) == 0
    run = root / "runs" / "albef"
    args = ["pretrain", "--config", ALBEF, "--smoke", "--workdir", str(run)]
    args += ["--set", f"data.train={shards / 'train'}"]
    args += ["--export-dir", str(root / "saved"), "--steps-per-epoch", "3"]
    assert main(args) == 0
    with open(run / "metrics.json") as f:
        return root, run, json.load(f)


def test_pretrain_streams_the_train_shards_and_tests_on_karpathy_test(pretrained):
    root, run, metrics = pretrained
    assert metrics["test_protocol"] == "karpathy-flickr8k test"
    # Shapes writes 5 captions an image; the test split is Karpathy's own.
    assert (metrics["test_images"], metrics["test_captions"]) == (6, 30)
    assert metrics["steps"] == 3
    assert {"i2t_r1", "t2i_r1"} <= set(metrics["retrieval"])
    # The val and test images were unpacked for evaluation; train was not.
    assert sorted(os.listdir(run / "data")) == ["test", "val"]
    with open(run / "config.json") as f:
        data = json.load(f)["data"]
    assert data["train"] == str(root / "shards" / "flickr8k" / "train")


def test_evaluate_retrieval_gives_the_pretrain_numbers(pretrained, tmp_path):
    _, run, metrics = pretrained
    out = tmp_path / "retrieval.json"
    assert main(["evaluate", "retrieval", "--from", str(run), "--json", str(out)]) == 0
    with open(out) as f:
        result = json.load(f)
    assert result["protocol"] == "karpathy-flickr8k test, all captions"
    assert (result["images"], result["captions"]) == (6, 30)
    for key in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        assert result["contrastive"][key] == pytest.approx(metrics["retrieval"][key])
    # VSE++'s variant of the protocol: each image's first N captions.
    first = ["evaluate", "retrieval", "--from", str(run), "--json", str(out)]
    assert main(first + ["--captions-per-image", "2"]) == 0
    with open(out) as f:
        result = json.load(f)
    assert result["protocol"] == "karpathy-flickr8k test, first 2 captions an image"
    assert (result["images"], result["captions"]) == (6, 12)
    train = ["evaluate", "retrieval", "--from", str(run), "--split", "train"]
    assert main(train) == 2  # streamed from shards: never unpacked


def test_caption_finetune_scores_the_karpathy_test_captions(pretrained, tmp_path):
    root, run, _ = pretrained
    workdir = tmp_path / "caption"
    args = ["finetune", "--task", "caption", "--from", str(run), "--smoke"]
    assert main(args + ["--workdir", str(workdir)]) == 0
    with open(workdir / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["protocol"] == "karpathy-flickr8k test"
    assert {"Bleu_4", "METEOR", "ROUGE_L", "CIDEr"} <= set(metrics["caption"])
    with open(workdir / "caption_results.json") as f:
        results = json.load(f)
    with open(root / "dataset_flickr8k.json") as f:
        karpathy = json.load(f)["images"]
    test_ids = [i["imgid"] for i in karpathy if i["split"] == "test"]
    assert [r["image_id"] for r in results] == test_ids

    saved = tmp_path / "saved"
    export = ["export", "--from", str(workdir), "--name", "flickr8k_captioner"]
    assert main(export + ["--export-dir", str(saved)]) == 0
    assert os.path.isfile(saved / "flickr8k_captioner" / "1" / "saved_model.pb")
