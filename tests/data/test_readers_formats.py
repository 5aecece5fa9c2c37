"""Karpathy, Flickr8k/30k, CSV/TSV pairs, VQA answers; report vs strict mode.

Each reader is checked on a tiny hand-written file: the exact `Example`s of a
good file, the exact `(source, reason)` list with `report`, and the
`InputError` naming the file without it.
"""

import json
import os
import time
import types

import numpy as np
import pytest

from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.flickr import read_flickr8k, read_flickr30k
from vlpk.data.formats.karpathy import read_karpathy
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.formats.vqa_answers import (
    answer_vocabulary,
    soft_score_vector,
    soft_scores,
)
from vlpk.data.formats.web_pairs import iter_caption_pairs
from vlpk.data.records.example import Example, MissingFileError, report_or_raise
from vlpk.errors import InputError

CHINESE = "一只红色的圆形在蓝色方块的左边"


def collect():
    skipped = []
    return skipped, lambda source, reason: skipped.append((source, reason))


def test_report_or_raise():
    skipped, report = collect()
    report_or_raise(report, "a.csv: line 3", "empty caption")
    assert skipped == [("a.csv: line 3", "empty caption")]
    with pytest.raises(InputError, match="^a.csv: line 3: empty caption$"):
        report_or_raise(None, "a.csv: line 3", "empty caption")


# --- Karpathy ------------------------------------------------------------------


def karpathy_images():
    return [
        {
            "filepath": "val2014",
            "filename": "a.jpg",
            "imgid": 0,
            "cocoid": 42,
            "split": "test",
            "sentences": [
                {"raw": "A man.", "tokens": ["a", "man"]},
                {"raw": "A person.", "tokens": ["a", "person"]},
            ],
            "sentids": [0, 1],
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
        {"filename": "d.jpg", "imgid": 3, "split": "val", "sentences": [{"raw": "d"}]},
    ]


def write_karpathy(tmp_path, images):
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"dataset": "coco", "images": images}))
    return path


def test_karpathy_reads_every_split_by_default(tmp_path):
    path = write_karpathy(tmp_path, karpathy_images())
    assert read_karpathy(path, "coco") == [
        Example(os.path.join("coco", "val2014", "a.jpg"), 42, ("A man.", "A person.")),
        Example(os.path.join("coco", "b.jpg"), 1, (CHINESE,)),
        Example(os.path.join("coco", "c.jpg"), 2, ("c",)),
        Example(os.path.join("coco", "d.jpg"), 3, ("d",)),
    ]


def test_karpathy_split_selection(tmp_path):
    path = write_karpathy(tmp_path, karpathy_images())
    train = read_karpathy(path, "coco", split=("train", "restval"))
    assert [e.image_id for e in train] == [1, 2]
    assert [e.image_id for e in read_karpathy(path, "coco", split="test")] == [42]
    assert [e.image_id for e in read_karpathy(path, "coco", split=["val"])] == [3]
    with pytest.raises(InputError, match="Unknown Karpathy split 'dev'"):
        read_karpathy(path, "coco", split="dev")


def test_karpathy_report_and_strict(tmp_path):
    images = karpathy_images()
    images[1]["sentences"].append({"raw": "  "})  # empty caption
    images[1]["sentences"].append({"tokens": []})  # no raw
    del images[2]["imgid"]  # no id at all
    images[3]["sentences"] = []
    path = write_karpathy(tmp_path, images)
    skipped, report = collect()
    examples = read_karpathy(path, "coco", report=report)
    assert [(e.image_id, e.captions) for e in examples] == [
        (42, ("A man.", "A person.")),
        (1, (CHINESE,)),
    ]
    assert skipped == [
        (f"{path}: images[1]['sentences'][1]", "empty caption"),
        (f"{path}: images[1]['sentences'][2]", "missing field 'raw'"),
        (f"{path}: images[2]", "missing field 'imgid'"),
        (f"{path}: images[3]", "no sentences"),
    ]
    with pytest.raises(
        InputError, match=r"dataset_coco.json: images\[1\].*empty caption"
    ):
        read_karpathy(path, "coco")
    # Records of other splits are not read, so they cannot fail.
    assert [e.image_id for e in read_karpathy(path, "coco", split="test")] == [42]


def test_karpathy_unparseable_files_raise_in_both_modes(tmp_path):
    skipped, report = collect()
    with pytest.raises(MissingFileError, match="missing.json"):
        read_karpathy(tmp_path / "missing.json", "coco", report=report)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="bad.json: is not a valid Karpathy"):
        read_karpathy(bad, "coco", report=report)
    assert skipped == []


# --- Flickr8k ------------------------------------------------------------------


def test_flickr8k_groups_captions_in_order(tmp_path):
    path = tmp_path / "Flickr8k.token.txt"
    path.write_text(
        "1000268201_693b08cb0e.jpg#0\tA child in a pink dress .\n"
        "2.jpg#0\tA dog .\n"
        "1000268201_693b08cb0e.jpg#1\tA girl climbing .\r\n"
        "\n"
        f"2.jpg#1\t{CHINESE}\n",
        encoding="utf-8",
    )
    assert read_flickr8k(path, "imgs") == [
        Example(
            os.path.join("imgs", "1000268201_693b08cb0e.jpg"),
            0,
            ("A child in a pink dress .", "A girl climbing ."),
        ),
        Example(os.path.join("imgs", "2.jpg"), 1, ("A dog .", CHINESE)),
    ]


def write_bad_flickr8k(tmp_path):
    path = tmp_path / "Flickr8k.token.txt"
    path.write_bytes(
        b"1.jpg#0\tA child in pink.\n"
        b"no tab here\n"
        b"2.jpg\tno hash\n"
        b"2.jpg#1\tbad \xff\xfe bytes\n"
        b"2.jpg#2\t   \n"
        b"2.jpg#3\tA dog.\n"
    )
    return path


def test_flickr8k_report_mode(tmp_path):
    path = write_bad_flickr8k(tmp_path)
    skipped, report = collect()
    examples = read_flickr8k(path, "imgs", report=report)
    assert examples == [
        Example(os.path.join("imgs", "1.jpg"), 0, ("A child in pink.",)),
        Example(os.path.join("imgs", "2.jpg"), 1, ("A dog.",)),
    ]
    assert skipped == [
        (f"{path}: line 2", "expected '<image>#<n><TAB><caption>'"),
        (f"{path}: line 3", "expected '<image>#<n><TAB><caption>'"),
        (f"{path}: line 4", "caption is not valid UTF-8"),
        (f"{path}: line 5", "empty caption"),
    ]


def test_flickr8k_strict_mode_names_file_and_line(tmp_path):
    path = write_bad_flickr8k(tmp_path)
    with pytest.raises(InputError, match=r"Flickr8k.token.txt: line 2: expected"):
        read_flickr8k(path, "imgs")
    with pytest.raises(MissingFileError, match="nope.txt"):
        read_flickr8k(tmp_path / "nope.txt", "imgs", report=collect()[1])


# --- Flickr30k -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "image_name| comment_number| comment\n"
        "1.jpg| 0| Two men .\n"
        '1.jpg| 1| A "quoted" word, and a comma .\n'
        f"2.jpg| 0| {CHINESE}\n",
        "image_name|comment_number|comment\n"
        "1.jpg|0|Two men .\n"
        '1.jpg|1|A "quoted" word, and a comma .\n'
        f"2.jpg|0|{CHINESE}\n",
        "image,caption\n"
        "1.jpg,Two men .\n"
        '1.jpg,"A ""quoted"" word, and a comma ."\n'
        f"2.jpg,{CHINESE}\n",
    ],
    ids=["kaggle-spaced", "kaggle-plain", "comma"],
)
def test_flickr30k_layouts(tmp_path, text):
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    assert read_flickr30k(path, "imgs") == [
        Example(
            os.path.join("imgs", "1.jpg"),
            0,
            ("Two men .", 'A "quoted" word, and a comma .'),
        ),
        Example(os.path.join("imgs", "2.jpg"), 1, (CHINESE,)),
    ]


def test_flickr30k_report_and_strict(tmp_path):
    path = tmp_path / "results.csv"
    path.write_bytes(
        b"image_name| comment_number| comment\n"
        b"1.jpg| 0| Two men .\n"
        b"2199200615.jpg| 4   A dog runs across the grass .\n"  # as in Kaggle's file
        b"1.jpg| 1| caf\xe9\n"
        b"1.jpg| 2|  \n"
        b"| 0| no image\n"
        b"3.jpg| 0| x| y\n"
        b"3.jpg| 1| A cat .\n"
    )
    skipped, report = collect()
    assert read_flickr30k(path, "imgs", report=report) == [
        Example(os.path.join("imgs", "1.jpg"), 0, ("Two men .",)),
        Example(os.path.join("imgs", "3.jpg"), 1, ("A cat .",)),
    ]
    assert skipped == [
        (f"{path}: line 3", "expected 3 fields, found 2"),
        (f"{path}: line 4", "caption is not valid UTF-8"),
        (f"{path}: line 5", "empty caption"),
        (f"{path}: line 6", "empty image name"),
        (f"{path}: line 7", "expected 3 fields, found 4"),
    ]
    with pytest.raises(InputError, match="results.csv: line 3: expected 3 fields"):
        read_flickr30k(path, "imgs")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "the file is empty"),
        (b"\xff\xfe|x\n1.jpg|a\n", r"line 1 \(the header\) is not valid UTF-8"),
        (b"file,text\n1.jpg,a\n", r"found \['file', 'text'\]"),
    ],
)
def test_flickr30k_unreadable_files_raise_in_both_modes(tmp_path, content, match):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    skipped, report = collect()
    with pytest.raises(InputError, match=f"results.csv: .*{match}"):
        read_flickr30k(path, "imgs", report=report)
    assert skipped == []


# --- CSV/TSV pairs -------------------------------------------------------------


def test_csv_pairs_happy_path(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(
        "url,caption,image\n"
        'http://x,"a dog, running",dogs/1.jpg\n'
        f"http://y,{CHINESE},/abs/2.jpg\n",
        encoding="utf-8",
    )
    pairs = iter_caption_pairs(path, "root")
    assert isinstance(pairs, types.GeneratorType)
    assert list(pairs) == [
        Example(os.path.join("root", "dogs/1.jpg"), 0, ("a dog, running",)),
        Example("/abs/2.jpg", 1, (CHINESE,)),
    ]
    # images_dir defaults to the file's folder; columns can be renamed.
    renamed = iter_caption_pairs(path, image_column="url", caption_column="image")
    assert next(renamed) == Example(
        os.path.join(str(tmp_path), "http://x"), 0, ("dogs/1.jpg",)
    )


def write_bad_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(
        b"caption\timage\n"
        b"a dog\tdogs/1.jpg\n"
        b"\xff broken\tdogs/2.jpg\n"
        b"only one field\n"
        b"\n"
        b"   \tdogs/5.jpg\n"
        b"a cat\t\n" + f"{CHINESE}\tdogs/7.jpg\n".encode()
    )
    return path


def test_csv_pairs_report_mode(tmp_path):
    path = write_bad_tsv(tmp_path)
    skipped, report = collect()
    examples = list(iter_caption_pairs(path, "root", report=report))
    assert examples == [
        Example(os.path.join("root", "dogs/1.jpg"), 0, ("a dog",)),
        Example(os.path.join("root", "dogs/7.jpg"), 6, (CHINESE,)),
    ]
    assert skipped == [
        (f"{path}: line 3", "caption is not valid UTF-8"),
        (f"{path}: line 4", "expected 2 fields, found 1"),
        (f"{path}: line 6", "empty caption"),
        (f"{path}: line 7", "empty image path"),
    ]


def test_csv_pairs_strict_mode(tmp_path):
    path = write_bad_tsv(tmp_path)
    pairs = iter_caption_pairs(path, "root")
    assert next(pairs).image_id == 0  # good rows before the bad one arrive
    with pytest.raises(
        InputError, match="pairs.tsv: line 3: caption is not valid UTF-8"
    ):
        next(pairs)


def test_csv_pairs_header_errors(tmp_path):
    path = write_bad_tsv(tmp_path)
    with pytest.raises(InputError, match=r"no column 'url'.*\['caption', 'image'\]"):
        next(iter_caption_pairs(path, image_column="url", report=collect()[1]))
    with pytest.raises(MissingFileError, match="nope.csv"):
        next(iter_caption_pairs(tmp_path / "nope.csv"))
    # An explicit delimiter overrides the extension.
    semicolons = tmp_path / "pairs.txt"
    semicolons.write_text("image;caption\na.jpg;a; b\n")
    skipped, report = collect()
    assert list(iter_caption_pairs(semicolons, "r", delimiter=";", report=report)) == []
    assert skipped == [(f"{semicolons}: line 2", "expected 2 fields, found 3")]


def test_csv_pairs_stream(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("image,caption\n")
        for i in range(200_000):
            f.write(f"{i}.jpg,caption number {i}\n")
    start = time.perf_counter()
    pairs = iter_caption_pairs(path)
    assert isinstance(pairs, types.GeneratorType)
    first = next(pairs)
    seconds = time.perf_counter() - start
    assert first == Example(
        os.path.join(str(tmp_path), "0.jpg"), 0, ("caption number 0",)
    )
    # Only the first buffered block was read, not the ~5 MB file.
    position = pairs.gi_frame.f_locals["f"].tell()
    assert position < 100_000 < os.path.getsize(path)
    assert seconds < 1.0  # reading it all takes several times longer
    pairs.close()


# --- COCO and VQA report mode --------------------------------------------------


def test_coco_report_mode(tmp_path):
    path = tmp_path / "captions.json"
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg"},
            {"id": 2},  # no file_name: its captions are skipped silently
            {"id": 1, "file_name": "again.jpg"},
        ],
        "annotations": [
            {"image_id": 1, "caption": "ok"},
            {"image_id": 99, "caption": "orphan"},
            {"image_id": 1},
            {"image_id": 1, "caption": " "},
            {"image_id": 2, "caption": "of a bad image"},
            {"image_id": "1", "caption": "string id"},
            {"image_id": 1, "caption": CHINESE},
        ],
    }
    path.write_text(json.dumps(data))
    skipped, report = collect()
    examples = read_coco_captions(path, "imgs", report=report)
    assert examples == [Example(os.path.join("imgs", "a.jpg"), 1, ("ok", CHINESE))]
    assert skipped == [
        (f"{path}: images[1]", "missing field 'file_name'"),
        (f"{path}: images[2]", "repeats image id 1"),
        (
            f"{path}: annotations[1]",
            "has image_id 99, which is not listed under 'images'",
        ),
        (f"{path}: annotations[2]", "missing field 'caption'"),
        (f"{path}: annotations[3]", "empty caption"),
        (f"{path}: annotations[5]", "field 'image_id' should be of type int, got str"),
    ]


def test_coco_strict_mode_on_unknown_id_and_empty_caption(tmp_path):
    path = tmp_path / "captions.json"
    images = [{"id": 1, "file_name": "a.jpg"}]
    path.write_text(
        json.dumps(
            {"images": images, "annotations": [{"image_id": 99, "caption": "x"}]}
        )
    )
    with pytest.raises(
        InputError, match=r"captions.json: annotations\[0\]: has image_id 99"
    ):
        read_coco_captions(path, "imgs")
    path.write_text(
        json.dumps({"images": images, "annotations": [{"image_id": 1, "caption": ""}]})
    )
    with pytest.raises(
        InputError, match=r"captions.json: annotations\[0\]: empty caption"
    ):
        read_coco_captions(path, "imgs")


def vqa_files(tmp_path, questions, annotations):
    q, a = tmp_path / "q.json", tmp_path / "a.json"
    q.write_text(json.dumps({"data_subtype": "val2014", "questions": questions}))
    a.write_text(json.dumps({"annotations": annotations}))
    return q, a


def vqa_annotation(question_id, image_id, answer="red"):
    return {
        "question_id": question_id,
        "image_id": image_id,
        "answer_type": "other",
        "multiple_choice_answer": answer,
        "answers": [{"answer": answer}] * 10,
    }


def test_vqa_report_mode(tmp_path):
    questions = [
        {"image_id": 1, "question": "What color?", "question_id": 10},
        {"image_id": 1, "question_id": 11},  # no question text
        {"image_id": 1, "question": "  ", "question_id": 12},
        {"image_id": 2, "question": "Mismatch?", "question_id": 13},
        {"image_id": 1, "question": "Bad annotation?", "question_id": 14},
        {"image_id": 1, "question": "Again?", "question_id": 10},
    ]
    bad = vqa_annotation(14, 1)
    del bad["answer_type"]
    annotations = [
        vqa_annotation(10, 1),
        vqa_annotation(11, 1),
        vqa_annotation(12, 1),
        vqa_annotation(13, 3),
        bad,
    ]
    q, a = vqa_files(tmp_path, questions, annotations)
    skipped, report = collect()
    examples = read_vqa(q, a, "imgs", report=report)
    assert [(e.question_id, e.question, e.answer) for e in examples] == [
        (10, "What color?", "red")
    ]
    assert skipped == [
        (f"{a}: annotations[4]", "missing field 'answer_type'"),
        (f"{q}: questions[1]", "missing field 'question'"),
        (f"{q}: questions[2]", "empty question"),
        (
            f"{q}: questions[3]",
            f"question_id 13 has image_id 3 in {a}, but image_id 2 here",
        ),
        (f"{q}: questions[5]", "repeats question_id 10"),
    ]
    with pytest.raises(
        InputError, match=r"a.json: annotations\[4\] is missing .*'answer_type'"
    ):
        read_vqa(q, a, "imgs")


def test_vqa_report_mode_unknown_image_and_split_mismatch(tmp_path):
    questions = [
        {"image_id": 1, "question": "Q1?", "question_id": 10},
        {"image_id": 7, "question": "Q2?", "question_id": 11},
    ]
    q, a = vqa_files(
        tmp_path, questions, [vqa_annotation(10, 1), vqa_annotation(11, 7)]
    )
    skipped, report = collect()
    examples = read_vqa(q, a, "imgs", image_files={1: "one.jpg"}, report=report)
    assert [e.image_path for e in examples] == [os.path.join("imgs", "one.jpg")]
    assert skipped == [
        (
            f"{q}: questions[1]",
            "image_id 7 is not in the `image_files` mapping passed to read_vqa",
        )
    ]
    # Files of different splits are not "bad records": they raise in both modes.
    q, a = vqa_files(tmp_path, questions, [vqa_annotation(10, 1)])
    with pytest.raises(InputError, match="question_id 11 .*no annotation"):
        read_vqa(q, a, "imgs", report=report)


# --- VQA answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "count, expected", [(1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (5, 1.0), (10, 1.0)]
)
def test_soft_scores_follow_the_vqa_accuracy(count, expected):
    answers = ["red"] * count + ["blue"] * (10 - count)
    scores = soft_scores(answers, ["red", "green"])
    assert scores == {"red": pytest.approx(expected)}
    assert list(scores) == ["red"]  # blue is not in the vocabulary


def test_soft_scores_match_the_leave_one_out_definition():
    # (Not "a": the official normalization drops articles.)
    answers = ["x"] * 2 + ["y"] * 7 + ["z"]
    brute = {
        x: np.mean(
            [
                min(1.0, (answers[:i] + answers[i + 1 :]).count(x) / 3)
                for i in range(len(answers))
            ]
        )
        for x in "xyz"
    }
    assert soft_scores(answers, ["x", "y", "z"]) == pytest.approx(brute)
    assert soft_scores([], ["x"]) == {}


def test_soft_score_vector_follows_the_official_comparison():
    vocabulary = ["red", "blue", "green", "two"]
    # The answers disagree, so punctuation goes: "blue." credits "blue".
    vector = soft_score_vector(["blue."] * 2 + ["green"] * 8, vocabulary)
    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector, [0.0, 0.6, 1.0, 0.0], rtol=1e-6)
    # Annotator answers are neither lowercased nor stripped, and "two" is
    # predicted as "2": none of these can be matched by any class.
    vector = soft_score_vector(["Blue"] * 2 + [" green"] * 4 + ["two"] * 4, vocabulary)
    np.testing.assert_allclose(vector, [0.0, 0.0, 0.0, 0.0])


def test_answer_vocabulary_ranks_by_frequency_then_name():
    examples = [
        Example("a", 0, (), answers=("yes", "yes", "2", "Red.")),
        Example("b", 1, (), answers=("red", "yes", "blue", " ", "Blue")),
        # Unanimous answers are compared as they are: "Two" and "the cat"
        # can never be matched, so they are not classes.
        Example("c", 2, (), answers=("Two",) * 3),
        Example("d", 3, (), answers=("the cat",) * 3),
    ]
    # "Red." -> "Red" and "Blue" keep their capital, " " its space: left out.
    assert answer_vocabulary(examples, top_k=3) == ["yes", "2", "blue"]
    assert answer_vocabulary(examples) == ["yes", "2", "blue", "red"]
    with pytest.raises(ValueError, match="top_k"):
        answer_vocabulary(examples, top_k=0)
