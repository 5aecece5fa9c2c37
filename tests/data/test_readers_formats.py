"""Karpathy, Flickr8k, Flickr30k, CSV/TSV pairs, VQA answers; report vs strict."""

import json
import os
import types

import numpy as np
import pytest

from vlpk.data.captions import clean_caption
from vlpk.data.coco import read_coco_captions
from vlpk.data.flickr import read_flickr8k, read_flickr30k
from vlpk.data.karpathy import read_karpathy
from vlpk.data.records import Example
from vlpk.data.vqa_answers import answer_vocabulary, soft_score_vector, soft_scores
from vlpk.data.web_pairs import iter_caption_pairs
from vlpk.errors import InputError

CHINESE = "一只红色的圆形在蓝色方块的左边"


def collect():
    skipped = []
    return skipped, lambda source, reason: skipped.append((source, reason))


def karpathy_file(tmp_path):
    images = [
        {
            "filepath": "val2014",
            "filename": "a.jpg",
            "imgid": 0,
            "cocoid": 42,
            "split": "test",
            "sentences": [{"raw": "A man.", "tokens": ["a", "man"]}],
        },
        {
            "filename": "b.jpg",
            "imgid": 1,
            "split": "train",
            "sentences": [{"raw": CHINESE}],
        },
        {
            "filename": "c.jpg",
            "imgid": 2,
            "split": "restval",
            "sentences": [{"raw": "c"}],
        },
        {"filename": "d.jpg", "split": "train", "sentences": []},  # no imgid
    ]
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"dataset": "coco", "images": images}))
    return path


def test_karpathy_splits_ids_and_paths(tmp_path):
    path = karpathy_file(tmp_path)
    skipped, report = collect()
    train = read_karpathy(path, "imgs", split=("train", "restval"), report=report)
    assert train == [
        Example(os.path.join("imgs", "", "b.jpg"), 1, (CHINESE,)),
        Example(os.path.join("imgs", "", "c.jpg"), 2, ("c",)),
    ]
    assert skipped == [
        (f"{path}: images[3]", "images[3] is missing the required key 'imgid'.")
    ]
    test = read_karpathy(path, "imgs", split="test")
    assert test == [Example(os.path.join("imgs", "val2014", "a.jpg"), 42, ("A man.",))]
    with pytest.raises(InputError, match=r"images\[3\].*imgid"):
        read_karpathy(path, "imgs", split="train")
    with pytest.raises(InputError, match="Unknown Karpathy split"):
        read_karpathy(path, "imgs", split="dev")


def test_flickr8k_groups_captions_and_reports_bad_lines(tmp_path):
    path = tmp_path / "Flickr8k.token.txt"
    path.write_bytes(
        b"1.jpg#0\tA child in pink.\n"
        b"2.jpg#0\tA dog.\n"
        b"1.jpg#1\tA girl climbing.\n"
        b"no tab here\n"
        b"2.jpg#1\tbad \xff\xfe bytes\n" + f"2.jpg#2\t{CHINESE}\n".encode()
    )
    skipped, report = collect()
    examples = read_flickr8k(path, "imgs", report=report)
    assert examples == [
        Example(
            os.path.join("imgs", "1.jpg"), 0, ("A child in pink.", "A girl climbing.")
        ),
        Example(os.path.join("imgs", "2.jpg"), 1, ("A dog.", CHINESE)),
    ]
    assert skipped == [
        (f"{path}: line 4", "expected '<image>#<n><TAB><caption>'"),
        (f"{path}: line 5", "not valid UTF-8"),
    ]
    with pytest.raises(InputError, match="line 4"):
        read_flickr8k(path, "imgs")


@pytest.mark.parametrize(
    "header,sep",
    [("image_name| comment_number| comment", "| "), ("image,caption", ",")],
)
def test_flickr30k_both_layouts(tmp_path, header, sep):
    path = tmp_path / "results.csv"
    rows = [
        ["1.jpg", "0", "Two men."],
        ["1.jpg", "1", "Men talk."],
        ["2.jpg", "0", "A cat."],
    ]
    if sep == ",":
        rows = [[r[0], r[2]] for r in rows]
    lines = (
        [header] + [sep.join(r) for r in rows] + [sep.join(["3.jpg", "x", "y", "z"])]
    )
    path.write_text("\n".join(lines) + "\n")
    skipped, report = collect()
    examples = read_flickr30k(path, "imgs", report=report)
    assert [e.captions for e in examples] == [("Two men.", "Men talk."), ("A cat.",)]
    assert [e.image_id for e in examples] == [0, 1]
    assert len(skipped) == 1 and skipped[0][0] == f"{path}: line 5"


def test_csv_pairs_stream_and_report(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(
        b"caption\timage\n"
        b"a dog\tdogs/1.jpg\n"
        b"\xff broken\tdogs/2.jpg\n"
        b"only one field\n" + f"{CHINESE}\t/abs/3.jpg\n".encode()
    )
    skipped, report = collect()
    examples = list(iter_caption_pairs(path, "root", report=report))
    assert examples == [
        Example(os.path.join("root", "dogs/1.jpg"), 0, ("a dog",)),
        Example("/abs/3.jpg", 3, (CHINESE,)),
    ]
    assert skipped == [
        (f"{path}: line 3", "not valid UTF-8"),
        (f"{path}: line 4", "expected 2 fields, found 1"),
    ]
    with pytest.raises(InputError, match="line 3: not valid UTF-8"):
        list(iter_caption_pairs(path, "root"))
    with pytest.raises(InputError, match="no column 'url'"):
        next(iter_caption_pairs(path, image_column="url"))


def test_csv_pairs_are_read_lazily(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("image,caption\n")
        for i in range(200_000):
            f.write(f"{i}.jpg,caption number {i}\n")
    pairs = iter_caption_pairs(path)
    assert isinstance(pairs, types.GeneratorType)
    first = next(pairs)
    assert first.captions == ("caption number 0",)
    # Only the first buffered block was read, not the 5 MB file.
    position = pairs.gi_frame.f_locals["f"].tell()
    assert position < 100_000 < os.path.getsize(path)


def test_coco_report_mode_skips_unknown_ids(tmp_path):
    path = tmp_path / "captions.json"
    data = {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [
            {"image_id": 1, "caption": "ok"},
            {"image_id": 99, "caption": "orphan"},
            {"image_id": 1},
        ],
    }
    path.write_text(json.dumps(data))
    skipped, report = collect()
    examples = read_coco_captions(path, "imgs", report=report)
    assert examples == [Example(os.path.join("imgs", "a.jpg"), 1, ("ok",))]
    assert skipped == [
        (
            f"{path}: annotations[1]",
            "has image_id 99, which is not listed under 'images'",
        ),
        (
            f"{path}: annotations[2]",
            "annotations[2] is missing the required key 'caption'.",
        ),
    ]


def test_soft_scores_follow_the_vqa_accuracy():
    vocabulary = ["red", "blue", "green", "two"]
    for count, expected in [(1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)]:
        answers = ["red"] * count + ["other"] * (10 - count)
        assert soft_scores(answers, vocabulary) == {"red": expected}
    vector = soft_score_vector(["Blue."] * 2 + ["green"] * 8, vocabulary)
    np.testing.assert_allclose(vector, [0.0, 0.6, 1.0, 0.0])


def test_answer_vocabulary_ranks_by_frequency_then_name():
    examples = [
        Example("a", 0, (), answers=("yes", "yes", "two", "Red.")),
        Example("b", 1, (), answers=("red", "yes", "blue")),
    ]
    assert answer_vocabulary(examples, top_k=3) == ["yes", "red", "blue"]


def test_clean_caption():
    assert clean_caption("  a  red\tcircle ") == ["a red circle"]
    assert clean_caption(CHINESE.encode()) == [CHINESE]
    assert clean_caption(" ".join(["w"] * 300), max_words=128) == [
        " ".join(["w"] * 128)
    ]
    parts = clean_caption(" ".join(["w"] * 300), max_words=128, split_long=True)
    assert [len(p.split()) for p in parts] == [128, 128, 44]
    long_cjk = clean_caption(CHINESE * 400, max_words=8)  # no spaces at all
    assert len(long_cjk) == 1 and len(long_cjk[0]) == 128
    assert len(clean_caption(CHINESE * 400, max_words=8, split_long=True)) == 47
    for bad, reason in [(b"\xff\xfe", "not valid UTF-8"), (" \n ", "empty caption")]:
        with pytest.raises(InputError, match=reason):
            clean_caption(bad)
