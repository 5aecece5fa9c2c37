"""Shapes as LLaVA JSON: written, read back by `read_llava`, converted, paired."""

import json

import pytest

from vlpk.data.formats.llava import read_llava
from vlpk.data.formats.registry import convert_dataset
from vlpk.data.pipelines.conversations import conversation_dataset
from vlpk.data.shapes.conversations import shapes_conversations, write_llava_json
from vlpk.data.shapes.reader import read_shapes, read_shapes_vqa
from vlpk.data.shapes.writer import write_shapes
from vlpk.errors import InputError


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(
        root, seed=2, image_size=32, splits={"train": 2, "val": 3}, progress=False
    )
    return root


def test_instruct_round_trip_one_conversation_per_image(shapes, tmp_path):
    written = write_llava_json(shapes / "images" / "val", tmp_path / "val.json")
    assert written["images_dir"] == str(shapes / "images" / "val")
    captioned = read_shapes(shapes, "val")
    questions = read_shapes_vqa(shapes, "val")
    assert written["records"] == len(captioned) == 3

    skipped = []
    examples = list(
        read_llava(written["path"], written["images_dir"], lambda *s: skipped.append(s))
    )
    assert skipped == []
    assert [e.image_path for e in examples] == [e.image_path for e in captioned]
    for example, image in zip(examples, captioned):
        asked = [q for q in questions if q.image_id == image.image_id]
        assert asked, "every Shapes image has questions"
        expected = ["Describe the image.", image.captions[0]]
        for q in asked:
            expected += [q.question, q.answer]
        assert list(example.texts) == expected
        assert example.roles == ("human", "gpt") * (1 + len(asked))
        assert example.conversation_id == f"{image.image_id:012d}"
    record = json.loads((tmp_path / "val.json").read_text())[0]
    assert record["conversations"][0]["value"].startswith("<image>\n")


def test_alignment_round_trip_one_record_per_caption(shapes, tmp_path):
    written = write_llava_json(
        shapes,
        tmp_path / "a.json",
        split="train",
        variant="alignment",
        instruction="Caption:",
    )
    captioned = read_shapes(shapes, "train")
    examples = list(read_llava(written["path"], written["images_dir"]))
    pairs = [
        (e.image_path, e.captions[k]) for e in captioned for k in range(len(e.captions))
    ]
    assert written["records"] == len(pairs) == len(examples)
    assert [(e.image_path, e.texts[1]) for e in examples] == pairs
    assert {e.texts[0] for e in examples} == {"Caption:"}
    assert {e.roles for e in examples} == {("human", "gpt")}


def test_converted_shapes_give_one_pair_per_answer(shapes, tmp_path):
    written = write_llava_json(shapes / "images" / "val", tmp_path / "val.json")
    out = tmp_path / "shards"
    manifest = convert_dataset(
        "llava", written["path"], written["images_dir"], out, split="val", verbose=0
    )
    assert manifest["examples"] == 3 and manifest["skipped"] == []
    pairs = list(conversation_dataset(out))
    answers = sum(len(e.texts) // 2 for e in read_llava(written["path"], "x"))
    assert len(pairs) == answers
    assert all(len(p["images"].numpy()) > 0 for p in pairs)
    assert pairs[0]["prompts"].numpy() == b"Describe the image.\n"


def test_bad_arguments_say_what_to_pass(shapes, tmp_path):
    with pytest.raises(InputError, match="pass split="):
        write_llava_json(shapes, tmp_path / "x.json")
    with pytest.raises(InputError, match="Unknown variant"):
        write_llava_json(shapes / "images" / "val", tmp_path / "x.json", variant="chat")
    with pytest.raises(InputError, match="no split 'test'"):
        write_llava_json(shapes, tmp_path / "x.json", split="test")
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(InputError, match="Unknown variant"):
        shapes_conversations([], variant="chat")
