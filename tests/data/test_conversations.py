"""`conversation_turn_pairs` by hand, and `conversation_dataset` on shards."""

import json

import numpy as np
import pytest
import tensorflow as tf

from vlpk.data.formats.registry import convert_dataset
from vlpk.data.pipelines.conversations import (
    conversation_dataset,
    conversation_turn_pairs,
)
from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import serialize_example
from vlpk.errors import InputError

ROLES = ["human", "gpt", "human", "gpt", "human", "gpt"]
TEXTS = ["What is it?", "A circle.", "What colour?", "Red.", "Where?", "Left."]


def decoded(pairs):
    return {key: [v.decode() for v in values.numpy()] for key, values in pairs.items()}


def test_one_pair_per_answer_with_the_whole_history():
    pairs = decoded(conversation_turn_pairs(ROLES, TEXTS))
    assert pairs == {
        "prompts": [
            "What is it?\n",
            "What is it?\nA circle.\nWhat colour?\n",
            "What is it?\nA circle.\nWhat colour?\nRed.\nWhere?\n",
        ],
        "responses": ["A circle.", "Red.", "Left."],
    }


def test_templates_render_human_turns_and_earlier_answers():
    pairs = decoded(
        conversation_turn_pairs(
            ROLES[:4],
            TEXTS[:4],
            template="USER: {prompt} {not a field} ASSISTANT:",
            answer_template=" {response}</s>",
        )
    )
    assert pairs["prompts"] == [
        "USER: What is it? {not a field} ASSISTANT:",
        "USER: What is it? {not a field} ASSISTANT: A circle.</s>"
        "USER: What colour? {not a field} ASSISTANT:",
    ]
    assert pairs["responses"] == ["A circle.", "Red."]


def test_a_trailing_question_and_no_answer_give_no_pair():
    pairs = decoded(
        conversation_turn_pairs(["human", "gpt", "human"], ["Q", "A", "Q2"])
    )
    assert pairs == {"prompts": ["Q\n"], "responses": ["A"]}
    empty = conversation_turn_pairs(
        tf.constant([], tf.string), tf.constant([], tf.string)
    )
    assert empty["prompts"].shape == (0,) and empty["responses"].shape == (0,)


def test_the_same_pairs_inside_tf_data():
    ds = tf.data.Dataset.from_tensors({"roles": ROLES, "texts": TEXTS})
    ds = ds.map(
        lambda r: conversation_turn_pairs(r["roles"], r["texts"], "> {prompt}|")
    )
    (graph,) = [decoded(p) for p in ds]
    assert graph == decoded(conversation_turn_pairs(ROLES, TEXTS, "> {prompt}|"))
    assert graph["prompts"][1] == "> What is it?|A circle.\n> What colour?|"
    assert graph["responses"] == ["A circle.", "Red.", "Left."]


@pytest.mark.parametrize("template", ["no field", "{prompt}{prompt}", "{Prompt}"])
def test_a_template_must_hold_its_field_once(template):
    with pytest.raises(InputError, match="exactly once"):
        conversation_turn_pairs(ROLES, TEXTS, template=template)
    with pytest.raises(InputError, match="exactly once"):
        conversation_turn_pairs(ROLES, TEXTS, answer_template="{response}" * 2)


# --- conversation_dataset ------------------------------------------------------


def jpeg(size=8):
    pixels = np.random.default_rng(size).integers(0, 255, (size, size, 3), "uint8")
    return tf.io.encode_jpeg(pixels).numpy()


def convert_conversations(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(jpeg())
    records = [
        {
            "id": "a",
            "image": "a.jpg",
            "conversations": [
                {"from": "human", "value": "What is it? <image>"},
                {"from": "gpt", "value": "Noise."},
                {"from": "human", "value": "Really?"},
                {"from": "gpt", "value": "Yes."},
            ],
        },
        {
            "id": "t",
            "conversations": [
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello."},
            ],
        },
    ]
    annotations = tmp_path / "llava.json"
    annotations.write_text(json.dumps(records))
    out = tmp_path / "shards"
    convert_dataset("llava", annotations, images, out, verbose=0)
    return out, (images / "a.jpg").read_bytes()


def test_dataset_yields_the_pairs_of_converted_shards(tmp_path):
    out, image = convert_conversations(tmp_path)
    ds = conversation_dataset(
        out, template="Q: {prompt} A:", answer_template=" {response}\n"
    )
    assert ds.element_spec == {
        "images": tf.TensorSpec([], tf.string),
        "prompts": tf.TensorSpec([], tf.string),
        "responses": tf.TensorSpec([], tf.string),
    }
    got = [{k: v.numpy() for k, v in pair.items()} for pair in ds]
    assert got == [
        {"images": image, "prompts": b"Q: What is it? A:", "responses": b"Noise."},
        {
            "images": image,
            "prompts": b"Q: What is it? A: Noise.\nQ: Really? A:",
            "responses": b"Yes.",
        },
        {"images": b"", "prompts": b"Q: Hi A:", "responses": b"Hello."},
    ]


def test_dataset_skips_unsafe_images_and_non_conversations(tmp_path, capfd):
    out, image = convert_conversations(tmp_path)

    def conversation(name, image_bytes):
        example = Example(
            name, 0, (), roles=("human", "gpt"), texts=("Q", name), conversation_id=name
        )
        return serialize_example(example, image_bytes, 8, 8)

    # A PNG header declaring 1000 x 1000 pixels: never decodable here.
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (1000).to_bytes(4, "big") * 2
    extra = tmp_path / "extra.tfrecord"
    with tf.io.TFRecordWriter(str(extra)) as writer:
        writer.write(conversation("text-bytes", b"not an image"))
        writer.write(conversation("bomb", png))
        writer.write(conversation("fine", image))
        writer.write(
            serialize_example(Example("c.jpg", 1, ("a caption",)), image, 8, 8)
        )
    ds = conversation_dataset(str(extra), max_pixels=100 * 100)
    assert [p["responses"].numpy() for p in ds] == [b"fine"]
    err = capfd.readouterr().err
    assert 'skipped conversation "text-bytes"' in err
    assert 'skipped conversation "bomb"' in err and "fine" not in err


def test_shuffle_and_repeat_keep_every_pair(tmp_path):
    out, _ = convert_conversations(tmp_path)
    ds = conversation_dataset(out, shuffle_buffer=10, seed=3, repeat=True)
    responses = sorted(p["responses"].numpy() for p in ds.take(6))
    assert responses == sorted([b"Noise.", b"Yes.", b"Hello."] * 2)
    with pytest.raises(InputError, match="exactly once"):
        conversation_dataset(out, template="no field")
