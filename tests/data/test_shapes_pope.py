"""POPE question files from Shapes scenes: sampling worked by hand, and POPE's own.

`reference_pope` is the sampling loop of `pope()` in POPE's `utils.py`
(github.com/AoiDragon/POPE at 08d957b; MIT license, Copyright (c) 2024 Yifan
Li), kept line for line but for three changes: it returns (image, object,
label) instead of writing questions, draws from a `random.Random` passed in
instead of the global `random`, and takes the counts it computes in
`generate_ground_truth_objects` and `compute_co_occurrence`, copied below it.
"""

import json
import os
import random
import re

import pytest

from vlpk.data.shapes.generator import generate_examples
from vlpk.data.shapes.layout import shapes_paths
from vlpk.data.shapes.pope import (
    STRATEGIES,
    pope_questions,
    read_shapes_scenes,
    shapes_scenes,
    write_pope_files,
)
from vlpk.data.shapes.writer import split_seed, write_shapes
from vlpk.errors import InputError
from vlpk.metrics.pope import read_pope_questions


def reference_pope(segment_results, sample_num, neg_strategy, rng):
    question_list = []
    ground_truth_objects = reference_ground_truth_objects(segment_results)
    gt_objects_list = list(ground_truth_objects.keys())
    sorted_objects = sorted(
        ground_truth_objects.items(), key=lambda x: x[1], reverse=True
    )
    sorted_co_occur = reference_co_occurrence(segment_results)
    for image in segment_results:
        history_object_list = []
        for i in range(sample_num):
            pos_object = image["objects"][i]
            history_object_list.append(pos_object)
            question_list.append((image["image"], pos_object, "yes"))
            if neg_strategy == "random":
                selected_object = rng.choice(gt_objects_list)
                while (
                    selected_object in history_object_list
                    or selected_object in image["objects"]
                ):
                    selected_object = rng.choice(gt_objects_list)
                history_object_list.append(selected_object)
                question_list.append((image["image"], selected_object, "no"))
                continue
            if neg_strategy == "popular":
                ranked = [item[0] for item in sorted_objects]
            else:
                ranked = sorted_co_occur[pos_object]
            flag = 0
            for selected_object in ranked:
                if (
                    selected_object not in history_object_list
                    and selected_object not in image["objects"]
                ):
                    history_object_list.append(selected_object)
                    question_list.append((image["image"], selected_object, "no"))
                    flag = 1
                    break
            if not flag:
                while True:
                    selected_object = rng.choice(gt_objects_list)
                    if (
                        selected_object not in history_object_list
                        and selected_object not in image["objects"]
                    ):
                        history_object_list.append(selected_object)
                        question_list.append((image["image"], selected_object, "no"))
                        break
    return question_list


def reference_ground_truth_objects(segment_results):
    gt_objects = dict()
    for image in segment_results:
        for o in image["objects"]:
            if o not in gt_objects:
                gt_objects[o] = 1
            else:
                gt_objects[o] += 1
    return gt_objects


def reference_co_occurrence(segment_results):
    co_occur = dict()
    for image in segment_results:
        objects = image["objects"]
        for o in objects:
            if o not in co_occur:
                co_occur[o] = dict()
            for other_o in objects:
                if o == other_o:
                    continue
                if other_o not in co_occur[o]:
                    co_occur[o][other_o] = 1
                else:
                    co_occur[o][other_o] += 1
    return {
        o: [k for k, _ in sorted(c.items(), key=lambda x: x[1], reverse=True)]
        for o, c in co_occur.items()
    }


_TEXT = re.compile(r"^Is there an? (.+) in the image\?$")


def triples(questions):
    """(image, object, label) of each question, the object read off the text."""
    return [
        (q["image"], _TEXT.match(q["text"]).group(1), q["label"]) for q in questions
    ]


# Counts: red circle 3, yellow diamond 2, blue square 2, the others 1. The
# ties are listed first-seen, which is not alphabetical order.
SCENES = [
    {"image": "a.jpg", "objects": ["red circle", "yellow diamond", "green triangle"]},
    {"image": "b.jpg", "objects": ["red circle", "yellow diamond"]},
    {"image": "c.jpg", "objects": ["red circle", "blue square"]},
    {"image": "d.jpg", "objects": ["purple circle"]},
    {"image": "e.jpg", "objects": ["orange square", "blue square"]},
]


def negatives(questions, image):
    return [name for where, name, label in triples(questions) if where == image][1::2]


def test_popular_by_hand():
    questions = pope_questions(SCENES, "popular")
    # Most frequent first, ties in first-seen order: red circle, yellow
    # diamond, blue square, green triangle, purple circle, orange square.
    assert negatives(questions, "a.jpg") == [
        "blue square",
        "purple circle",
        "orange square",
    ]
    assert negatives(questions, "b.jpg") == ["blue square", "green triangle"]
    assert negatives(questions, "c.jpg") == ["yellow diamond", "green triangle"]
    assert negatives(questions, "d.jpg") == ["red circle"]
    assert negatives(questions, "e.jpg") == ["red circle", "yellow diamond"]
    assert questions[5]["text"] == "Is there an orange square in the image?"


def test_adversarial_by_hand():
    questions = pope_questions(SCENES, "adversarial")
    # red circle co-occurs with yellow diamond twice, then green triangle and
    # blue square once each (first seen in that order).
    assert negatives(questions, "a.jpg")[0] == "blue square"
    assert negatives(questions, "b.jpg")[0] == "green triangle"
    # The objects co-occurring with the *positive*: blue square was seen with
    # orange square, though red circle's list would give green triangle.
    assert negatives(questions, "c.jpg") == ["yellow diamond", "orange square"]
    # Where the list is used up (yellow diamond's partners are all in a.jpg),
    # a random absent object: purple circle or orange square.
    assert set(negatives(questions, "a.jpg")[1:]) == {
        "purple circle",
        "orange square",
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_balanced_absent_and_numbered(strategy):
    scenes = shapes_scenes(generate_examples(40, seed=5, image_size=32))
    questions = pope_questions(scenes, strategy, sample_num=2, seed=1)
    assert [q["question_id"] for q in questions] == list(range(1, len(questions) + 1))
    assert [q["label"] for q in questions] == ["yes", "no"] * (len(questions) // 2)
    by_image = {}
    for image, name, label in triples(questions):
        by_image.setdefault(image, {"yes": [], "no": []})[label].append(name)
    assert len(by_image) == len(scenes)
    for scene in scenes:
        asked = by_image[scene["image"]]
        assert asked["yes"] == scene["objects"][:2]
        assert len(asked["no"]) == len(asked["yes"])
        assert not set(asked["no"]) & set(scene["objects"])
        assert len(set(asked["no"])) == len(asked["no"])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_as_popes_own_sampling(strategy):
    examples = generate_examples(120, seed=2, image_size=32)
    # POPE keeps only the images with `sample_num` objects or more.
    scenes = [s for s in shapes_scenes(examples) if len(s["objects"]) == 3]
    expected = reference_pope(scenes, 3, strategy, random.Random(7))
    assert triples(pope_questions(scenes, strategy, seed=7)) == expected


def test_deterministic_with_a_seed():
    scenes = shapes_scenes(generate_examples(40, seed=5, image_size=32))
    first = pope_questions(scenes, "random", seed=3)
    assert pope_questions(scenes, "random", seed=3) == first
    assert pope_questions(scenes, "random", seed=4) != first


@pytest.mark.parametrize(
    "scenes, strategy, sample_num, pattern",
    [
        (SCENES, "hard", 3, "Unknown POPE strategy 'hard'"),
        (SCENES, "random", 0, "sample_num must be at least 1"),
        ([{"image": "x.jpg", "objects": "red circle"}], "random", 3, "should be of"),
        ([{"image": "x.jpg", "objects": [""]}], "random", 3, "non-empty strings"),
        (
            [{"image": "x.jpg", "objects": ["red circle", "blue square"]}] * 2,
            "random",
            3,
            "image 'x.jpg' needs 2 absent objects .* only 0 of the 2",
        ),
    ],
)
def test_bad_input(scenes, strategy, sample_num, pattern):
    with pytest.raises(InputError, match=pattern):
        pope_questions(scenes, strategy, sample_num)


def test_write_from_scenes_in_memory(tmp_path):
    scenes = shapes_scenes(generate_examples(20, seed=0, image_size=32))
    paths = write_pope_files(scenes, tmp_path / "pope", seed=9)
    assert set(paths) == set(STRATEGIES)
    for strategy, path in paths.items():
        assert path == str(tmp_path / "pope" / f"pope_{strategy}.jsonl")
        assert read_pope_questions(path) == pope_questions(scenes, strategy, seed=9)
        # One JSON object per line, with json.dumps's separators, as POPE.
        first = open(path, encoding="utf-8").readline()
        assert first.startswith('{"question_id": 1, "image": "000000000001.jpg", ')


def test_write_from_a_written_split(tmp_path):
    root = tmp_path / "shapes"
    write_shapes(
        root, seed=4, image_size=32, splits={"train": 3, "val": 8}, progress=False
    )
    # The val images come after the 3 train images: ids 4 to 11.
    examples = generate_examples(8, split_seed(4, "val"), 32)
    expected = shapes_scenes(examples, first_image_id=4)
    assert read_shapes_scenes(root, "val") == expected
    images = os.listdir(shapes_paths(root, "val")["images_dir"])
    assert sorted(scene["image"] for scene in expected) == sorted(images)

    from_root = write_pope_files(root, tmp_path / "a", split="val")
    from_folder = write_pope_files(root / "images" / "val", tmp_path / "b")
    for strategy in STRATEGIES:
        written = read_pope_questions(from_root[strategy])
        assert written == pope_questions(expected, strategy)
        assert read_pope_questions(from_folder[strategy]) == written


def test_written_split_errors(tmp_path):
    with pytest.raises(InputError, match="No Shapes dataset in"):
        read_shapes_scenes(tmp_path, "val")
    root = tmp_path / "shapes"
    write_shapes(root, image_size=32, splits={"val": 3}, progress=False)
    with pytest.raises(InputError, match="has no split 'test'; it has \\['val'\\]"):
        read_shapes_scenes(root, "test")
    with pytest.raises(InputError, match="pass split="):
        write_pope_files(root, tmp_path / "out")
    # A dataset the generator no longer reproduces.
    captions = shapes_paths(root, "val")["captions"]
    data = json.loads(open(captions).read())
    data["annotations"][0]["caption"] = "a caption from another generator"
    with open(captions, "w") as f:
        json.dump(data, f)
    with pytest.raises(InputError, match="not written by this version"):
        read_shapes_scenes(root, "val")
