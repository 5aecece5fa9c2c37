"""Tests for the synthetic Shapes dataset: scenes, captions, questions, files.

Captions and answers are checked against an independent oracle written here
from the objects' bounding boxes, not against the generator's own helpers.
"""

import json
import os
import re
import time

import numpy as np
import pytest
import tensorflow as tf

from vlpk.data import synthetic
from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.vqa import read_vqa

COLOR = "|".join(synthetic.COLORS)
SHAPE = "|".join(synthetic.SHAPES)
RELATION = "left of|to the right of|above|below"
PHRASE = rf"an? (?:(small|large) )?({COLOR}) ({SHAPE})"
RELATION_CAPTION = re.compile(rf"^{PHRASE} ({RELATION}) {PHRASE}$")
MENTION = re.compile(rf"(?:(small|large) )?({COLOR}) ({SHAPE})")


@pytest.fixture(scope="module")
def examples():
    return synthetic.generate_examples(200, seed=0)


# --- an independent oracle ---------------------------------------------------


def left_of(a, b):
    return a["bbox"][2] <= b["bbox"][0]


def above(a, b):
    return a["bbox"][3] <= b["bbox"][1]


RELATIONS = {
    "left of": left_of,
    "to the right of": lambda a, b: left_of(b, a),
    "above": above,
    "below": lambda a, b: above(b, a),
}


def find(objects, color=None, shape=None, size=None):
    return [
        o
        for o in objects
        if (color is None or o["color"] == color)
        and (shape is None or o["shape"] == shape)
        and (size is None or o["size"] == size)
    ]


def resolve(reference, objects):
    """The single object named by 'the red circle' / 'the circle'."""
    words = reference.split()
    assert words[0] == "the", reference
    matches = find(
        objects, shape=words[-1], color=words[1] if len(words) == 3 else None
    )
    assert len(matches) == 1, (reference, objects)
    return matches[0]


def oracle_answer(question, objects):
    """The answer computed from the objects alone, or fails on a new pattern."""
    if question == "how many shapes are there?":
        return str(len(objects))
    if m := re.fullmatch(rf"how many ({COLOR}) shapes are there\?", question):
        return str(len(find(objects, color=m[1])))
    if m := re.fullmatch(rf"how many ({SHAPE})s are there\?", question):
        return str(len(find(objects, shape=m[1])))
    if m := re.fullmatch(
        rf"what color is the (?:(small|large) )?({SHAPE})\?", question
    ):
        (obj,) = find(objects, size=m[1], shape=m[2])
        return obj["color"]
    if m := re.fullmatch(rf"what shape is the ({COLOR}) object\?", question):
        (obj,) = find(objects, color=m[1])
        return obj["shape"]
    if m := re.fullmatch(rf"is there an? ({COLOR}) ({SHAPE})\?", question):
        return "yes" if find(objects, color=m[1], shape=m[2]) else "no"
    if m := re.fullmatch(
        rf"what (is|color is the shape) ({RELATION}) (the .+)\?", question
    ):
        anchor = resolve(m[3], objects)
        (target,) = [o for o in objects if RELATIONS[m[2]](o, anchor)]
        return target["shape"] if m[1] == "is" else target["color"]
    if m := re.fullmatch(rf"is (the .+?) ({RELATION}) (the .+)\?", question):
        a, b = resolve(m[1], objects), resolve(m[3], objects)
        holds = RELATIONS[m[2]](a, b)
        # "No" is only asked when the opposite relation clearly holds.
        assert holds or any(RELATIONS[r](a, b) for r in RELATIONS if r != m[2]), (
            question
        )
        return "yes" if holds else "no"
    raise AssertionError(f"Unexpected question pattern: {question!r}")


# --- scenes ------------------------------------------------------------------


def test_same_seed_same_examples_and_other_seed_differs():
    a = synthetic.generate_examples(10, seed=1, image_size=32)
    b = synthetic.generate_examples(10, seed=1, image_size=32)
    c = synthetic.generate_examples(10, seed=2, image_size=32)
    for x, y in zip(a, b):
        assert x["image"].tobytes() == y["image"].tobytes()
        assert x["captions"] == y["captions"]
        assert x["questions"] == y["questions"]
        assert x["label"] == y["label"]
    assert [x["image"].tobytes() for x in a] != [x["image"].tobytes() for x in c]
    assert [x["captions"] for x in a] != [x["captions"] for x in c]


def test_generation_does_not_touch_global_random_state():
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    synthetic.generate_examples(3)
    assert np.random.rand() == expected


@pytest.mark.parametrize("image_size", [32, 64, 100])
def test_images_and_objects_are_well_formed(image_size):
    for example in synthetic.generate_examples(50, seed=3, image_size=image_size):
        image = example["image"]
        assert image.shape == (image_size, image_size, 3)
        assert image.dtype == np.uint8
        assert 1 <= len(example["objects"]) <= 3
        for obj in example["objects"]:
            assert obj["shape"] in synthetic.SHAPES
            assert obj["color"] in synthetic.COLORS
            assert obj["size"] in synthetic.SIZES
            x0, y0, x1, y1 = obj["bbox"]
            assert 0 <= x0 < x1 <= image_size and 0 <= y0 < y1 <= image_size
            # The object is drawn: its colour dominates the middle of its box.
            middle = image[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)
            rgb = np.array(synthetic.COLOR_RGB[obj["color"]])
            assert np.abs(middle - rgb).max() <= 10


def test_image_size_too_small_is_rejected():
    with pytest.raises(ValueError, match="image_size"):
        synthetic.generate_example(np.random.default_rng(0), image_size=16)


def test_objects_never_overlap_and_relations_follow_a_clear_grid(examples):
    for example in examples:
        objects = example["objects"]
        for i, a in enumerate(objects):
            for b in objects[i + 1 :]:
                assert left_of(a, b) or left_of(b, a) or above(a, b) or above(b, a)
                # Along each axis, either a visible gap or a clear overlap (at
                # least half the smaller object): never a borderline relation.
                for axis in (0, 1):
                    lo, hi = sorted([a, b], key=lambda o: o["bbox"][axis])
                    gap = hi["bbox"][axis] - lo["bbox"][axis + 2]
                    smaller = min(o["bbox"][axis + 2] - o["bbox"][axis] for o in (a, b))
                    assert gap >= 2 or -gap >= smaller / 2, (a, b)


def test_label_is_shape_of_largest_leftmost_object(examples):
    for example in examples:
        objects = example["objects"]
        large = find(objects, size="large") or objects
        leftmost = min(large, key=lambda o: (o["bbox"][0], o["bbox"][1]))
        assert synthetic.CLASS_NAMES[example["label"]] == leftmost["shape"]
    labels = {example["label"] for example in examples}
    assert labels == set(range(len(synthetic.CLASS_NAMES)))


# --- captions ----------------------------------------------------------------


def test_captions_are_distinct_and_mention_only_real_objects(examples):
    for example in examples:
        captions, objects = example["captions"], example["objects"]
        assert 3 <= len(captions) <= 5
        assert len(set(captions)) == len(captions)
        for caption in captions:
            mentions = MENTION.findall(caption)
            if not mentions:  # "a large square colored yellow"
                size, shape, color = re.fullmatch(
                    rf"an? (small|large) ({SHAPE}) colored ({COLOR})", caption
                ).groups()
                mentions = [(size, color, shape)]
            for size, color, shape in mentions:
                assert find(objects, color=color, shape=shape, size=size or None), (
                    caption,
                    objects,
                )


def test_relation_captions_are_true(examples):
    seen = set()
    for example in examples:
        objects = example["objects"]
        for caption in example["captions"]:
            m = RELATION_CAPTION.match(caption)
            if not m:
                continue
            size_a, color_a, shape_a, relation, size_b, color_b, shape_b = m.groups()
            (a,) = find(objects, color=color_a, shape=shape_a)
            (b,) = find(objects, color=color_b, shape=shape_b)
            assert size_a in (None, a["size"]) and size_b in (None, b["size"])
            assert RELATIONS[relation](a, b), (caption, objects)
            seen.add(relation)
    assert seen == set(RELATIONS)


def test_single_object_captions_give_size_colour_shape_and_position(examples):
    single = [e for e in examples if len(e["objects"]) == 1]
    assert single
    for example in single:
        obj = example["objects"][0]
        text = " ".join(example["captions"])
        for word in (obj["size"], obj["color"], obj["shape"]):
            assert word in text
        assert re.search(r" (in|on|at) the (top|middle|bottom|left|center|right)", text)


def test_swapping_colours_gives_a_caption_of_another_image(examples):
    swapped_any = 0
    for example in examples:
        objects = example["objects"]
        for caption in example["captions"]:
            m = RELATION_CAPTION.match(caption)
            if not m or m[2] == m[6] or m[3] == m[7]:
                continue
            swapped = caption.replace(m[2], "@").replace(m[6], m[2]).replace("@", m[6])
            assert swapped != caption
            assert swapped not in example["captions"]
            # The swapped caption names objects this image does not have.
            assert not (
                find(objects, color=m[6], shape=m[3])
                and find(objects, color=m[2], shape=m[7])
            )
            swapped_any += 1
    assert swapped_any > 20


# --- questions ---------------------------------------------------------------


def test_answers_match_the_objects(examples):
    for example in examples:
        for q in example["questions"]:
            assert q["answer"] == oracle_answer(q["question"], example["objects"])
            assert len(q["answer"].split()) == 1
            expected_type = {"yes": "yes/no", "no": "yes/no"}.get(q["answer"])
            if q["answer"].isdigit():
                expected_type = "number"
            assert q["answer_type"] == (expected_type or "other")


def test_all_question_types_present_and_yes_no_balanced(examples):
    questions = [q for example in examples for q in example["questions"]]
    types = {q["question_type"] for q in questions}
    assert types == {"color", "shape", "count", "existence", "relation"}
    assert {q["answer_type"] for q in questions} == {"yes/no", "number", "other"}
    relation_types = {
        q["answer_type"] for q in questions if q["question_type"] == "relation"
    }
    assert relation_types == {"yes/no", "other"}
    yes_no = [q["answer"] for q in questions if q["answer_type"] == "yes/no"]
    assert 0.3 <= yes_no.count("yes") / len(yes_no) <= 0.7
    for question_type in ("existence", "relation"):
        answers = [
            q["answer"]
            for q in questions
            if q["question_type"] == question_type and q["answer_type"] == "yes/no"
        ]
        assert 0.3 <= answers.count("yes") / len(answers) <= 0.7


# --- files -------------------------------------------------------------------

SPLITS = {"train": 20, "val": 5, "test": 5}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "shapes"
    paths = synthetic.write_shapes(
        root, seed=0, image_size=32, splits=SPLITS, progress=False
    )
    return root, paths


def test_write_shapes_writes_every_file(written):
    root, paths = written
    assert paths["root"] == str(root)
    assert set(paths["splits"]) == set(SPLITS)
    for split, split_paths in paths["splits"].items():
        assert split_paths == synthetic.shapes_paths(root, split)
        for path in split_paths.values():
            assert os.path.exists(path)
        assert len(os.listdir(split_paths["images_dir"])) == SPLITS[split]
    marker = json.loads((root / "shapes.json").read_text())
    assert marker["splits"] == SPLITS and marker["image_size"] == 32
    assert marker["counts"]["train"]["images"] == 20
    # Nothing is left behind next to the dataset.
    assert os.listdir(root.parent) == ["shapes"]


def test_written_files_round_trip_through_the_readers(written):
    root, paths = written
    all_ids = []
    for split, count in SPLITS.items():
        split_paths = paths["splits"][split]
        generated = synthetic.generate_examples(
            count, seed=synthetic.split_seed(0, split), image_size=32
        )
        examples = read_coco_captions(
            split_paths["captions"], split_paths["images_dir"]
        )
        assert [e.captions for e in examples] == [
            tuple(g["captions"]) for g in generated
        ]
        for example, expected in zip(examples, generated):
            image = tf.io.decode_jpeg(tf.io.read_file(example.image_path))
            assert image.shape == (32, 32, 3)
            error = np.abs(image.numpy().astype(int) - expected["image"]).mean()
            assert error < 4  # JPEG at quality 95 is close to the drawn image

        classes, labels = synthetic.read_labels(split_paths["labels"])
        assert classes == list(synthetic.CLASS_NAMES)
        assert [labels[e.image_id] for e in examples] == [g["label"] for g in generated]
        shapes = synthetic.read_shapes(root, split)
        assert [e.label for e in shapes] == [g["label"] for g in generated]
        assert shapes[0].image_path == examples[0].image_path

        vqa = read_vqa(
            split_paths["questions"],
            split_paths["annotations"],
            split_paths["images_dir"],
        )
        expected_qa = [q for g in generated for q in g["questions"]]
        assert [(e.question, e.answer, e.answer_type) for e in vqa] == [
            (q["question"], q["answer"], q["answer_type"]) for q in expected_qa
        ]
        assert all(e.answers == (e.answer,) * 10 for e in vqa)
        assert all(os.path.exists(e.image_path) for e in vqa)
        assert synthetic.read_shapes_vqa(root, split) == vqa
        all_ids += [e.image_id for e in examples]
    assert len(set(all_ids)) == len(all_ids) == sum(SPLITS.values())


def test_vqa_files_follow_the_v2_layout(written):
    _, paths = written
    questions = json.loads(open(paths["splits"]["val"]["questions"]).read())
    annotations = json.loads(open(paths["splits"]["val"]["annotations"]).read())
    assert questions["task_type"] == "Open-Ended"
    assert questions["data_type"] == "shapes"
    assert questions["data_subtype"] == annotations["data_subtype"] == "val"
    annotation = annotations["annotations"][0]
    assert [a["answer_id"] for a in annotation["answers"]] == list(range(1, 11))
    assert annotation["answers"][0]["answer_confidence"] == "yes"


def test_second_call_is_cached(written):
    root, paths = written
    files = [root / "shapes.json", *sorted((root / "images" / "train").iterdir())[:3]]
    before = [f.stat().st_mtime_ns for f in files]
    start = time.perf_counter()
    again = synthetic.write_shapes(
        root, seed=0, image_size=32, splits=SPLITS, progress=False
    )
    assert time.perf_counter() - start < 0.5
    assert again == paths
    assert [f.stat().st_mtime_ns for f in files] == before


def test_other_parameters_need_overwrite(tmp_path):
    root = tmp_path / "shapes"
    synthetic.write_shapes(root, image_size=32, splits={"train": 3}, progress=False)
    with pytest.raises(ValueError, match="overwrite=True"):
        synthetic.write_shapes(root, image_size=48, splits={"train": 3}, progress=False)
    synthetic.write_shapes(
        root, image_size=48, splits={"train": 3}, overwrite=True, progress=False
    )
    (example,) = synthetic.read_shapes(root, "train")[:1]
    assert tf.io.decode_jpeg(tf.io.read_file(example.image_path)).shape == (48, 48, 3)
    assert os.listdir(tmp_path) == ["shapes"]


def test_foreign_directory_is_not_overwritten_silently(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a Shapes dataset.*overwrite=True"):
        synthetic.write_shapes(tmp_path, splits={"train": 1}, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_empty_directory_is_filled(tmp_path):
    root = tmp_path / "shapes"
    root.mkdir()
    synthetic.write_shapes(root, image_size=32, splits={"a": 2}, progress=False)
    assert len(synthetic.read_shapes(root, "a")) == 2


def test_progress_prints_one_line_per_split(tmp_path, capsys):
    synthetic.write_shapes(tmp_path / "s", image_size=32, splits={"a": 1, "b": 1})
    err = capsys.readouterr().err
    assert "a (1 images" in err and "b (1 images" in err


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"splits": {"../x": 1}}, "Split names"),
        ({"splits": {"train": -1}}, "non-negative"),
        ({"splits": {}}, "at least one split"),
        ({"seed": -1}, "seed"),
        ({"image_size": 8}, "image_size"),
    ],
)
def test_bad_arguments_are_rejected(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic.write_shapes(tmp_path / "s", progress=False, **kwargs)


def test_read_shapes_explains_a_missing_dataset(tmp_path, written):
    with pytest.raises(FileNotFoundError, match="write_shapes"):
        synthetic.read_shapes(tmp_path, "train")
    with pytest.raises(ValueError, match="no split 'dev'"):
        synthetic.read_shapes(written[0], "dev")


def test_default_size_dataset_is_fast(tmp_path):
    start = time.perf_counter()
    synthetic.write_shapes(tmp_path / "s", splits={"train": 270}, progress=False)
    # The default 2,700 images must take well under 30 s on 2 cores; 270 take
    # about 0.4 s, and the bound leaves room for a busy machine.
    assert time.perf_counter() - start < 5
