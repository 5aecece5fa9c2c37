"""`read_llava` on a hand-written LLaVA file: every kept and skipped case.

The kept records are compared whole; each skipped one is matched by its
source and reason, so a check that stops working leaves a record in (or
takes its reason away) and fails the test. Image checks are those of the
conversion, tested on shards written from the same kind of file.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from vlpk.data.formats.llava import read_llava
from vlpk.data.formats.registry import convert_dataset, read_source
from vlpk.data.records.example import Example, MissingFileError
from vlpk.data.records.tfrecord import parse_example
from vlpk.errors import InputError


def human(value):
    return {"from": "human", "value": value}


def gpt(value):
    return {"from": "gpt", "value": value}


# (record, what read_llava keeps: `Example` fields, or the skip reason).
KEPT = [
    (
        {
            "id": "start",
            "image": "a.jpg",
            "conversations": [
                human("<image>\nWhat is it?"),
                gpt("A circle."),
                human("What colour?"),
                gpt("Red."),
            ],
        },
        dict(
            image_path="images/a.jpg",
            roles=("human", "gpt", "human", "gpt"),
            texts=("What is it?", "A circle.", "What colour?", "Red."),
        ),
    ),
    (
        {
            "id": "end",
            "image": "sub/b.png",
            "conversations": [human("What is it? <image>"), gpt("A square.")],
        },
        dict(image_path="images/sub/b.png", texts=("What is it?", "A square.")),
    ),
    # In the middle: LLaVA removes it and strips only the ends.
    (
        {
            "id": "middle",
            "image": "a.jpg",
            "conversations": [human(" Look at <image> this "), gpt("Yes.")],
        },
        dict(texts=("Look at  this", "Yes.")),
    ),
    # Several in the first turn: one image, every placeholder removed.
    (
        {
            "id": "twice",
            "image": "a.jpg",
            "conversations": [human("<image> a <image>"), gpt("b")],
        },
        dict(texts=("a", "b")),
    ),
    # The placeholder alone (the pretraining stage's form): an empty prompt.
    (
        {
            "id": "alone",
            "image": "a.jpg",
            "conversations": [human("<image>"), gpt("x")],
        },
        dict(texts=("", "x")),
    ),
    # Text-only, an integer id; turns that hold no placeholder are unstripped.
    (
        {"id": 5, "conversations": [human(" Hi \n"), gpt("Hello.")]},
        dict(image_path="", conversation_id="5", texts=(" Hi \n", "Hello.")),
    ),
    # A leading gpt turn is dropped, as preprocess_v1 does; no id at all.
    (
        {
            "conversations": [gpt("Welcome."), human("Q <image>"), gpt("A")],
            "image": "a.jpg",
        },
        dict(conversation_id=None, roles=("human", "gpt"), texts=("Q", "A")),
    ),
    # A trailing human turn is kept (it trains nothing); other keys ignored.
    (
        {
            "id": "tail",
            "model": "gpt-4",
            "conversations": [human("Q"), gpt("A"), human("Thanks")],
        },
        dict(roles=("human", "gpt", "human"), texts=("Q", "A", "Thanks")),
    ),
]

SKIPPED = [
    ({"id": "none"}, "[{i}]", "missing field 'conversations'"),
    ({"id": "empty", "conversations": []}, "[{i}]", "no turns in 'conversations'"),
    ({"conversations": [human("Q")]}, "[{i}]", "no assistant ('gpt') turn"),
    (
        {"conversations": [{"from": "system", "value": "Be nice."}, gpt("A")]},
        "[{i}]['conversations'][0]",
        "role 'system': LLaVA takes only 'human' and 'gpt'",
    ),
    (
        {"conversations": [human("Q"), human("Q again"), gpt("A")]},
        "[{i}]",
        "turn 1 is from 'human' where 'gpt' is expected",
    ),
    (
        {"conversations": [gpt("Hi"), gpt("Hi again"), human("Q"), gpt("A")]},
        "[{i}]",
        "turn 1 is from 'gpt' where 'human' is expected",
    ),
    (
        {"image": ["a.jpg", "b.jpg"], "conversations": [human("<image>"), gpt("A")]},
        "[{i}]",
        "'image' is a list of 2",
    ),
    (
        {"image": None, "conversations": [human("<image>"), gpt("A")]},
        "[{i}]",
        "field 'image' should be of type str",
    ),
    (
        {"image": " ", "conversations": [human("<image>"), gpt("A")]},
        "[{i}]",
        "empty 'image' path",
    ),
    (
        {"image": "a.jpg", "conversations": [human("Q"), gpt("A")]},
        "[{i}]",
        "an 'image' but no <image> placeholder",
    ),
    (
        {"conversations": [human("<image>\nQ"), gpt("A")]},
        "[{i}]",
        "an <image> placeholder but no 'image'",
    ),
    (
        {
            "image": "a.jpg",
            "conversations": [human("Q"), gpt("A"), human("<image> Q2"), gpt("A2")],
        },
        "[{i}]",
        "<image> in turn 2: only the first human turn may hold it",
    ),
    (
        {
            "image": "a.jpg",
            "conversations": [human("<image> Q"), gpt("A <image>")],
        },
        "[{i}]",
        "<image> in turn 1",
    ),
    (
        {"conversations": [human("Q"), gpt("A"), human("Q2"), gpt("  ")]},
        "[{i}]",
        "empty answer in turn 3",
    ),
    (
        {"conversations": [human("Q"), {"from": "gpt"}]},
        "[{i}]['conversations'][1]",
        "missing field 'value'",
    ),
    (
        {"conversations": [human("Q"), gpt(7)]},
        "[{i}]['conversations'][1]",
        "field 'value' should be of type str",
    ),
    (
        {"id": 1.5, "conversations": [human("Q"), gpt("A")]},
        "[{i}]",
        "field 'id' should be of type str or int",
    ),
    ("not a record", "[{i}]", "should be a JSON object"),
    # A lone surrogate escape, and the mark a lossy decoder leaves.
    (
        {"conversations": [human("Q\ud800"), gpt("A")]},
        "[{i}]['conversations'][0]",
        "'value' is not valid UTF-8",
    ),
    (
        {"conversations": [human("Q"), gpt("A\ufffd")]},
        "[{i}]['conversations'][1]",
        "'value' is not valid UTF-8",
    ),
]

# A Latin-1 byte in an otherwise UTF-8 file: only its record is skipped.
LATIN1_RECORD = b'{"conversations": [{"from": "human", "value": "caf\xe9?"}, ' + (
    b'{"from": "gpt", "value": "A"}]}'
)


def write_file(tmp_path):
    """The LLaVA file: kept and skipped records interleaved, then Latin-1."""
    records = []
    for (good, _), (bad, _, _) in zip(KEPT, SKIPPED):
        records += [good, bad]
    records += [good for good, _ in KEPT[len(SKIPPED) :]]
    records += [bad for bad, _, _ in SKIPPED[len(KEPT) :]]
    body = json.dumps(records, ensure_ascii=True)
    path = tmp_path / "llava.json"
    path.write_bytes(body[:-1].encode() + b", " + LATIN1_RECORD + b"]")
    return path, records


def expected_examples(records):
    examples = []
    for good, fields in KEPT:
        index = records.index(good)
        image = good.get("image")
        defaults = dict(
            image_path=os.path.join("images", image) if image else "",
            image_id=index,
            captions=(),
            roles=tuple(turn["from"] for turn in good["conversations"]),
            conversation_id=None if "id" not in good else str(good["id"]),
        )
        examples.append(Example(**{**defaults, **fields}))
    return examples


def collect():
    skipped = []
    return skipped, lambda source, reason: skipped.append((source, reason))


def test_kept_records_are_read_as_llava_reads_them(tmp_path):
    path, records = write_file(tmp_path)
    skipped, report = collect()
    examples = list(read_llava(path, "images", report=report))
    assert examples == expected_examples(records)
    assert all(e.is_conversation for e in examples)


def test_each_bad_record_is_skipped_with_its_reason(tmp_path):
    path, records = write_file(tmp_path)
    skipped, report = collect()
    list(read_llava(path, "images", report=report))
    expected = []
    for bad, where, reason in SKIPPED:
        index = next(i for i, r in enumerate(records) if r is bad)
        expected.append((f"{path}: {where.format(i=index)}", reason))
    expected.append(
        (
            f"{path}: [{len(records)}]['conversations'][0]",
            "'value' is not valid UTF-8 (byte 0xe9)",
        )
    )
    assert len(skipped) == len(expected), skipped
    for (source, reason), (want_source, want_reason) in zip(skipped, expected):
        assert source == want_source
        assert reason.startswith(want_reason), (reason, want_reason)


def test_without_report_the_first_bad_record_raises_naming_it(tmp_path):
    path, _ = write_file(tmp_path)
    examples = read_llava(path, "images")
    assert next(examples).conversation_id == "start"
    with pytest.raises(InputError, match=r"llava.json: \[1\].*'conversations'"):
        next(examples)


def test_the_file_itself_is_checked_when_read_llava_is_called(tmp_path):
    with pytest.raises(MissingFileError, match="not found"):
        read_llava(tmp_path / "gone.json", "images")
    path = tmp_path / "dict.json"
    path.write_text(json.dumps({"conversations": []}))
    with pytest.raises(InputError, match="should be a JSON list"):
        read_llava(path, "images")
    path.write_text("[{")
    with pytest.raises(InputError, match="not a valid LLaVA conversation JSON"):
        read_llava(path, "images")
    path.write_bytes("[]".encode("utf-16"))
    with pytest.raises(InputError, match="not a valid LLaVA"):
        read_llava(path, "images")


def test_read_source_knows_llava(tmp_path):
    path, records = write_file(tmp_path)
    examples = list(read_source("llava", path, "images", report=lambda s, r: None))
    assert examples == expected_examples(records)


# --- conversion: the image checks, and what the shards hold -----------------


def jpeg(size=16):
    pixels = np.random.default_rng(size).integers(0, 255, (size, size, 3), "uint8")
    return tf.io.encode_jpeg(pixels).numpy()


def write_images(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "good.jpg").write_bytes(jpeg())
    (images / "big.jpg").write_bytes(jpeg(size=40))  # 1600 pixels
    (images / "cut.jpg").write_bytes(jpeg(size=64)[:300])
    (images / "text.jpg").write_bytes(b"not an image")
    return images


def image_record(name, answer):
    return {
        "id": name,
        "image": name,
        "conversations": [human("<image>\nWhat is it?"), gpt(answer)],
    }


def test_conversion_checks_images_and_writes_the_turns(tmp_path):
    images = write_images(tmp_path)
    records = [
        image_record("good.jpg", "Noise."),
        image_record("gone.jpg", "Lost."),
        image_record("big.jpg", "Too big."),
        image_record("cut.jpg", "Truncated."),
        image_record("text.jpg", "Text."),
        {
            "id": "t",
            "conversations": [human("Hi"), gpt("Hello."), human("Q"), gpt("A")],
        },
        {"id": "bad", "conversations": [human("<image>"), gpt("A")]},
    ]
    annotations = tmp_path / "llava.json"
    annotations.write_text(json.dumps(records))
    out = tmp_path / "out"
    manifest = convert_dataset(
        "llava", annotations, images, out, verbose=0, max_pixels=1000, shard_size=3
    )
    assert manifest["examples"] == 2
    assert manifest["format"] == "llava" and manifest["split"] == "train"
    reasons = {os.path.basename(s["source"]): s["reason"] for s in manifest["skipped"]}
    assert reasons.pop("gone.jpg") == "file not found"
    assert "above max_pixels=1000" in reasons.pop("big.jpg")
    assert reasons.pop("cut.jpg").startswith("truncated or corrupt")
    assert reasons.pop("text.jpg").startswith("not an image")
    assert reasons == {"llava.json: [6]": "an <image> placeholder but no 'image'"}

    parsed = []
    for shard in manifest["shards"]:
        for raw in tf.data.TFRecordDataset(str(out / shard["file"])):
            parsed.append(parse_example(raw))
    first, text_only = parsed
    assert first["image"].numpy() == (images / "good.jpg").read_bytes()
    assert first["texts"].numpy().tolist() == [b"What is it?", b"Noise."]
    assert first["roles"].numpy().tolist() == [b"human", b"gpt"]
    assert int(first["image_turn"]) == 0 and int(first["height"]) == 16
    assert first["conversation_id"].numpy() == b"good.jpg"
    assert text_only["image"].numpy() == b""
    assert int(text_only["image_turn"]) == -1 and int(text_only["width"]) == 0
    assert text_only["texts"].numpy().tolist() == [b"Hi", b"Hello.", b"Q", b"A"]
    assert text_only["conversation_id"].numpy() == b"t"


def test_strict_conversion_stops_at_the_first_bad_image(tmp_path):
    images = write_images(tmp_path)
    annotations = tmp_path / "llava.json"
    annotations.write_text(json.dumps([image_record("cut.jpg", "A")]))
    with pytest.raises(InputError, match="cut.jpg: truncated or corrupt"):
        convert_dataset(
            "llava", annotations, images, tmp_path / "o", strict=True, verbose=0
        )


def test_caption_records_are_written_as_before(tmp_path):
    # The turn features are added to conversations only.
    from vlpk.data.records.tfrecord import serialize_example

    raw = serialize_example(Example("a.jpg", 1, ("a cat",)), b"x", 1, 1)
    features = tf.train.Example.FromString(raw).features.feature
    assert "roles" not in features and "texts" not in features
    parsed = parse_example(raw)
    assert parsed["roles"].shape == (0,) and int(parsed["image_turn"]) == -1
