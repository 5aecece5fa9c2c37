"""`convert_examples`: shards, manifest, skips with reasons, strict mode, resume."""

import json
import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import parse_example
from vlpk.data.shards.convert import convert_examples
from vlpk.data.shards.image_check import BadImage, check_image
from vlpk.errors import InputError


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def bomb_png(side=30000):
    """A PNG whose header declares side x side pixels, with no real pixels."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + b"\x00" * 64


def jpeg(seed, size=16):
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), "uint8")
    return tf.io.encode_jpeg(pixels).numpy()


@pytest.fixture
def images(tmp_path):
    """Good JPEG/PNG files and one file of each bad kind."""
    root = tmp_path / "images"
    root.mkdir()
    good = {}
    for i in range(5):
        good[i] = root / f"good{i}.jpg"
        good[i].write_bytes(jpeg(i))
    png = np.full((8, 12, 3), 200, "uint8")
    good[5] = root / "good5.png"
    good[5].write_bytes(tf.io.encode_png(png).numpy())
    bad = {
        "truncated": root / "truncated.jpg",
        "text": root / "notes.jpg",
        "bomb": root / "bomb.png",
        "empty": root / "empty.jpg",
        "missing": root / "missing.jpg",
    }
    bad["truncated"].write_bytes(jpeg(9, size=64)[:300])
    bad["text"].write_bytes(b"this is not an image\n")
    bad["bomb"].write_bytes(bomb_png())
    bad["empty"].write_bytes(b"")
    return good, bad


def examples(good, bad):
    records = [
        Example(str(path), i, (f"caption {i}", f"another {i}"))
        for i, path in good.items()
    ]
    records += [
        Example(str(path), 100 + i, ("fine caption",))
        for i, path in enumerate(bad.values())
    ]
    records.append(Example(str(good[0]), 200, ("   ", "")))  # only empty captions
    records.append(Example(str(good[1]), 201, ("kept", "\t")))  # one empty caption
    records.append(Example(str(good[2]), 202, ("一只红色的圆形在蓝色方块的左边",)))
    return records


def read_all(out_dir, manifest):
    records = []
    for shard in manifest["shards"]:
        path = os.path.join(out_dir, shard["file"])
        compression = "GZIP" if path.endswith(".gz") else ""
        for raw in tf.data.TFRecordDataset(path, compression_type=compression):
            records.append(parse_example(raw))
    return records


def test_every_good_record_is_written_and_every_bad_one_reported(images, tmp_path):
    good, bad = images
    out = tmp_path / "shards"
    manifest = convert_examples(
        examples(good, bad), out, shard_size=4, workers=2, verbose=0
    )
    reasons = {entry["source"]: entry["reason"] for entry in manifest["skipped"]}
    assert manifest["examples"] == 6 + 2  # 6 good images, "kept", the CJK one
    assert manifest["records_read"] == 6 + 5 + 3
    assert len(manifest["skipped"]) == 5 + 1 + 1
    assert reasons[str(bad["missing"])] == "file not found"
    assert reasons[str(bad["empty"])] == "empty file"
    assert reasons[str(bad["text"])] == "not an image (unrecognised format)"
    assert reasons[str(bad["bomb"])].startswith("image declares 30000x30000 pixels")
    assert reasons[str(bad["truncated"])].startswith("truncated or corrupt image")
    assert reasons[str(good[0])] == "empty caption"
    assert reasons[f"{good[1]}: caption 1"] == "empty caption"
    assert [s["examples"] for s in manifest["shards"]] == [4, 2, 0, 2]
    assert json.loads((out / "manifest.json").read_text()) == manifest

    records = read_all(out, manifest)
    assert len(records) == manifest["examples"]
    by_id = {int(r["image_id"]): r for r in records}
    assert [c.decode() for c in by_id[3]["captions"].numpy()] == [
        "caption 3",
        "another 3",
    ]
    assert by_id[5]["image"].numpy() == good[5].read_bytes()
    assert (int(by_id[5]["height"]), int(by_id[5]["width"])) == (8, 12)
    assert [c.decode() for c in by_id[201]["captions"].numpy()] == ["kept"]
    cjk = by_id[202]["captions"].numpy()[0].decode("utf-8")
    assert cjk == "一只红色的圆形在蓝色方块的左边"
    decoded = tf.io.decode_image(by_id[0]["image"])
    assert decoded.shape == (16, 16, 3)


def test_strict_mode_stops_at_the_first_bad_record_and_names_it(images, tmp_path):
    good, bad = images
    with pytest.raises(InputError, match="truncated.jpg: truncated or corrupt"):
        convert_examples(
            examples(good, bad), tmp_path / "out", shard_size=4, strict=True, verbose=0
        )


def test_rerun_keeps_finished_shards_and_gives_the_same_manifest(images, tmp_path):
    good, bad = images
    out = tmp_path / "shards"
    first = convert_examples(examples(good, bad), out, shard_size=4, verbose=0)
    shard = out / first["shards"][0]["file"]
    mtime = os.stat(shard).st_mtime_ns
    os.remove(out / first["shards"][2]["file"])  # as if killed while writing it
    second = convert_examples(examples(good, bad), out, shard_size=4, verbose=0)
    assert os.stat(shard).st_mtime_ns == mtime  # kept, not rewritten
    for key in ("examples", "skipped", "shards", "captions"):
        assert second[key] == first[key], key
    with pytest.raises(InputError, match="other options"):
        convert_examples(examples(good, bad), out, shard_size=3, verbose=0)


def test_rerun_refuses_shards_of_changed_sources(images, tmp_path):
    good, bad = images
    out = tmp_path / "shards"
    first = convert_examples(examples(good, bad), out, shard_size=4, verbose=0)
    os.remove(out / first["shards"][1]["file"])  # killed while writing it
    edited = examples(good, bad)
    edited[0] = Example(edited[0].image_path, 0, ("an edited caption",))
    with pytest.raises(InputError, match="other sources"):
        convert_examples(edited, out, shard_size=4, verbose=0)
    good[3].write_bytes(jpeg(3, size=24))  # an image replaced by another
    with pytest.raises(InputError, match="other sources"):
        convert_examples(examples(good, bad), out, shard_size=4, verbose=0)


def test_gzip_shards_read_back(images, tmp_path):
    good, _ = images
    records = [Example(str(p), i, (f"c{i}",)) for i, p in good.items()]
    out = tmp_path / "gz"
    manifest = convert_examples(records, out, compression="gzip", verbose=0)
    assert manifest["shards"][0]["file"].endswith(".tfrecord.gz")
    assert len(read_all(out, manifest)) == 6


def test_conversion_streams_its_input(images, tmp_path):
    good, _ = images
    consumed = []

    def stream():
        for i in range(10):
            consumed.append(i)
            yield Example(str(good[i % 6]), i, (f"c{i}",))

    seen_at_first_shard = []
    original = tf.io.TFRecordWriter

    class Spy(original):
        def __init__(self, *args, **kwargs):
            seen_at_first_shard.append(len(consumed))
            super().__init__(*args, **kwargs)

    tf.io.TFRecordWriter = Spy
    try:
        manifest = convert_examples(stream(), tmp_path / "s", shard_size=3, verbose=0)
    finally:
        tf.io.TFRecordWriter = original
    assert manifest["examples"] == 10
    assert seen_at_first_shard == [3, 6, 9, 10]  # one shard's worth at a time


def test_check_image_reads_the_header_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png())
    with pytest.raises(BadImage, match="30000x30000"):
        check_image(path)
    small = tmp_path / "small.png"
    small.write_bytes(bomb_png(side=4))
    with pytest.raises(BadImage, match="not an image|truncated or corrupt"):
        check_image(small)  # passes the size check, then fails in Pillow
