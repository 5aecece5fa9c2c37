"""`vlpk data convert --format llava` on a hand-made folder with bad records."""

import json

import numpy as np
import tensorflow as tf

from vlpk.cli import main
from vlpk.data.pipelines.conversations import conversation_dataset


def write_llava(root):
    images = root / "images"
    images.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (12, 12, 3), "uint8")
    (images / "a.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
    (images / "corrupt.jpg").write_bytes(b"GIF89a not really")
    turns = [
        {"from": "human", "value": "<image>\nWhat is it?"},
        {"from": "gpt", "value": "Noise."},
    ]
    records = [
        {"id": "a", "image": "a.jpg", "conversations": turns},
        {"id": "gone", "image": "gone.jpg", "conversations": turns},
        {"id": "corrupt", "image": "corrupt.jpg", "conversations": turns},
        {"id": "text", "conversations": [turns[0] | {"value": "Hi"}, turns[1]]},
        {"id": "roles", "conversations": [{"from": "user", "value": "Hi"}]},
    ]
    path = root / "llava.json"
    path.write_text(json.dumps(records))
    return images, path


def convert(images, annotations, out, *flags):
    return main(
        [
            "data",
            "convert",
            "--format",
            "llava",
            "--images",
            str(images),
            "--annotations",
            str(annotations),
            "--out",
            str(out),
            *flags,
        ]
    )


def test_llava_conversion_writes_shards_a_manifest_and_skips(tmp_path, capsys):
    images, annotations = write_llava(tmp_path)
    out = tmp_path / "out"
    assert convert(images, annotations, out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "llava" and manifest["examples"] == 2
    reasons = [entry["reason"] for entry in manifest["skipped"]]
    assert reasons[0].startswith("role 'user'")  # the reader's, first
    assert sorted(reasons[1:])[0] == "file not found"
    assert sorted(reasons[1:])[1].startswith(("not an image", "truncated"))
    captured = capsys.readouterr()
    assert "2 examples written, 3 skipped" in captured.out
    assert "gone.jpg: file not found" in captured.err
    responses = [p["responses"].numpy() for p in conversation_dataset(out)]
    assert responses == [b"Noise.", b"Noise."]


def test_llava_strict_exits_2_naming_the_record(tmp_path, capsys):
    images, annotations = write_llava(tmp_path)
    assert convert(images, annotations, tmp_path / "out", "--strict") == 2
    err = capsys.readouterr().err
    assert "vlpk data: error:" in err
    # The reader reads a whole shard's records before their images are checked.
    assert "llava.json: [4]['conversations'][0]: role 'user'" in err
