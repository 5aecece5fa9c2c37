"""Karpathy files mix train, val, test and restval: conversion keeps them apart.

Without `--split` each split gets its own folder and manifest, and readers
refuse the top folder; `--split train,restval` is one set named after both.
No test image may ever reach a training folder.
"""

import json
import os

import pytest

from tests.data.test_convert import jpeg, read_all
from tests.data.test_readers_formats import karpathy_images, write_karpathy
from vlpk.cli import main
from vlpk.data.formats.karpathy import SPLITS, read_karpathy, read_karpathy_splits
from vlpk.data.formats.registry import convert_dataset
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.shards.convert import convert_examples
from vlpk.data.shards.reading import caption_pair_dataset, read_records, shard_files
from vlpk.errors import InputError
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

# image id -> split of the file below (cocoid 42 for a.jpg, else imgid).
SPLIT_OF = {42: "test", 1: "train", 2: "restval", 3: "val", 4: "train", 5: "test"}
IDS = {split: [i for i, s in SPLIT_OF.items() if s == split] for split in SPLITS}
UNKNOWN = f"unknown split 'dev'; expected one of {SPLITS}"


@pytest.fixture
def karpathy(tmp_path):
    """A Karpathy file of every split, its images, and three bad records."""
    records = karpathy_images() + [
        {"filename": name, "imgid": i, "split": split, "sentences": [{"raw": name}]}
        for name, i, split in [
            ("e.jpg", 4, "train"),
            ("f.jpg", 5, "test"),
            ("g.jpg", 6, "dev"),  # no such split: reported, in no folder
            ("gone.jpg", 7, "train"),  # no such file: reported with train
        ]
    ]
    # No captions: reported with val.
    records.append({"filename": "h.jpg", "imgid": 8, "split": "val", "sentences": []})
    images = tmp_path / "coco"
    (images / "val2014").mkdir(parents=True)
    for seed, record in enumerate(records):
        if record["filename"] != "gone.jpg":
            folder = images / record.get("filepath", "")
            (folder / record["filename"]).write_bytes(jpeg(seed))
    return write_karpathy(tmp_path, records), images


def ids(folder, manifest):
    return sorted(int(r["image_id"]) for r in read_all(folder, manifest))


def test_read_karpathy_splits_keeps_each_split_apart(karpathy):
    path, images = karpathy
    skipped, val_skipped = [], []
    by_split = read_karpathy_splits(
        path,
        images,
        report=lambda source, reason: skipped.append((source, reason)),
        split_reports={"val": lambda *skip: val_skipped.append(skip)},
    )
    assert list(by_split) == ["train", "val", "test", "restval"]
    assert {name: [e.image_id for e in ex] for name, ex in by_split.items()} == {
        "train": [1, 4, 7],
        "val": [3],
        "test": [42, 5],
        "restval": [2],
    }
    assert skipped == [(f"{path}: images[6]", UNKNOWN)]
    assert val_skipped == [(f"{path}: images[8]", "no sentences")]
    with pytest.raises(InputError, match=r"images\[6\]: unknown split 'dev'"):
        read_karpathy_splits(path, images)


def test_without_split_each_split_gets_its_own_folder(karpathy, tmp_path):
    path, images = karpathy
    out = tmp_path / "out"
    top = convert_dataset("karpathy", path, images, out, shard_size=1, verbose=0)
    for split in SPLITS:
        manifest = json.loads((out / split / "manifest.json").read_text())
        assert manifest["split"] == split
        assert manifest["options"]["karpathy_splits"] == [split]
        assert all(s["file"].startswith(f"{split}-") for s in manifest["shards"])
        assert ids(out / split, manifest) == sorted(IDS[split])
    assert top == json.loads((out / "manifest.json").read_text())
    assert top["splits"] == [
        {"split": "train", "dir": "train", "examples": 2, "captions": 2},
        {"split": "val", "dir": "val", "examples": 1, "captions": 1},
        {"split": "test", "dir": "test", "examples": 2, "captions": 3},
        {"split": "restval", "dir": "restval", "examples": 1, "captions": 1},
    ]
    assert (top["examples"], top["captions"], top["format"]) == (6, 7, "karpathy")
    assert [(s["source"], s["reason"]) for s in top["skipped"]] == [
        (f"{path}: images[6]", UNKNOWN),
        (str(images / "gone.jpg"), "file not found"),
        (f"{path}: images[8]", "no sentences"),
    ]
    train = json.loads((out / "train" / "manifest.json").read_text())
    assert [s["reason"] for s in train["skipped"]] == ["file not found"]
    assert not set(ids(out / "train", train)) & set(IDS["test"])
    val = json.loads((out / "val" / "manifest.json").read_text())
    assert [s["reason"] for s in val["skipped"]] == ["no sentences"]
    assert not [f for f in os.listdir(out) if ".tfrecord" in f]  # no merged set


def test_split_train_restval_is_one_set_named_after_both(karpathy, tmp_path):
    path, images = karpathy
    for flag in ("train,restval", "restval, train"):
        out = tmp_path / flag.replace(" ", "")
        manifest = convert_dataset(
            "karpathy", path, images, out, split=flag, shard_size=2, verbose=0
        )
        assert manifest["split"] == "train+restval"
        assert manifest["options"]["karpathy_splits"] == ["train", "restval"]
        assert [s["file"] for s in manifest["shards"]] == [
            "train+restval-00000.tfrecord",
            "train+restval-00001.tfrecord",
        ]
        assert ids(out, manifest) == sorted(IDS["train"] + IDS["restval"])
        assert not set(ids(out, manifest)) & set(IDS["test"])
        assert not [f for f in os.listdir(out) if (out / f).is_dir()]


def test_readers_read_a_split_folder_and_refuse_the_top_folder(karpathy, tmp_path):
    path, images = karpathy
    out = tmp_path / "out"
    convert_dataset("karpathy", path, images, out, verbose=0)
    assert shard_files(out / "test") == [str(out / "test" / "test-00000.tfrecord")]
    records = list(read_records(out / "train"))
    assert sorted(int(r["image_id"]) for r in records) == sorted(IDS["train"])
    folders = ", ".join(str(out / split) for split in SPLITS)
    for where in (out, out / "manifest.json"):
        with pytest.raises(InputError, match="one folder per split") as error:
            shard_files(where)
        assert folders in str(error.value)
    text = TextPreprocessor(wordpiece_tokenizer(learn_vocabulary(["a b"], 20)), 4)
    with pytest.raises(InputError, match="one folder per split"):
        caption_pair_dataset(out, ImagePreprocessor(8), text, batch_size=2)
    os.remove(out / "manifest.json")  # as if cut short before the last write
    with pytest.raises(InputError, match="one folder per split") as error:
        shard_files(out)
    assert all(str(out / split) in str(error.value) for split in SPLITS)


def test_out_of_the_other_layout_is_never_replaced(karpathy, tmp_path):
    path, images = karpathy
    merged, split = tmp_path / "merged", tmp_path / "split"
    convert_dataset("karpathy", path, images, merged, split="train", verbose=0)
    before = (merged / "manifest.json").read_text()
    with pytest.raises(InputError, match="holds a single shard set"):
        convert_dataset("karpathy", path, images, merged, verbose=0)
    assert (merged / "manifest.json").read_text() == before
    assert not (merged / "train").exists()

    first = convert_dataset("karpathy", path, images, split, verbose=0)
    with pytest.raises(InputError, match="one folder per split"):
        convert_dataset("karpathy", path, images, split, split="train", verbose=0)
    again = convert_dataset("karpathy", path, images, split, verbose=0)  # resumes
    for key in ("splits", "examples", "skipped"):
        assert again[key] == first[key], key


def test_old_merged_shards_are_not_resumed_as_one_split(karpathy, tmp_path):
    # What `--split` left out used to write: every split, named "train".
    path, images = karpathy
    out = tmp_path / "out"
    everything = read_karpathy(path, images, report=lambda source, reason: None)
    convert_examples(everything, out, split="train", verbose=0)
    with pytest.raises(InputError, match="other options"):
        convert_dataset("karpathy", path, images, out, split="train", verbose=0)


def convert_cli(path, images, out, *flags):
    return main(
        [
            "data",
            "convert",
            "--format",
            "karpathy",
            "--images",
            str(images),
            "--annotations",
            str(path),
            "--out",
            str(out),
            *flags,
        ]
    )


def test_cli_writes_a_folder_per_split_and_exits_0(karpathy, tmp_path, capsys):
    path, images = karpathy
    out = tmp_path / "out"
    assert convert_cli(path, images, out) == 0
    printed = capsys.readouterr().out
    assert f"test: 2 examples in {out / 'test'}" in printed
    assert f"6 examples written, 3 skipped: {out}/manifest.json" in printed
    manifest = json.loads((out / "train" / "manifest.json").read_text())
    assert ids(out / "train", manifest) == sorted(IDS["train"])


def test_cli_split_names_and_exit_codes(karpathy, tmp_path, capsys):
    path, images = karpathy
    assert convert_cli(path, images, tmp_path / "bad", "--split", "train,dev") == 2
    err = capsys.readouterr().err
    assert "vlpk data: error: Unknown Karpathy split 'dev'" in err
    assert "train, val, test, restval" in err
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "out"
    assert convert_cli(path, images, out, "--split", "restval, train") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["split"] == "train+restval"
    assert ids(out, manifest) == sorted(IDS["train"] + IDS["restval"])
