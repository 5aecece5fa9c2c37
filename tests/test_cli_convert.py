"""`vlpk data convert` on a hand-made COCO folder with bad files in it."""

import json

import numpy as np
import tensorflow as tf

from vlpk.cli import main


def write_coco(root):
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    entries, annotations = [], []
    for i in range(4):
        name = f"{i:012d}.jpg"
        pixels = rng.integers(0, 255, (12, 12, 3), "uint8")
        (images / name).write_bytes(tf.io.encode_jpeg(pixels).numpy())
        entries.append({"id": i, "file_name": name})
        annotations.append({"id": 10 + i, "image_id": i, "caption": f"shape {i}"})
    (images / "000000000002.jpg").write_bytes(b"GIF89a not really")  # corrupt
    entries.append({"id": 7, "file_name": "gone.jpg"})  # missing file
    annotations.append({"id": 20, "image_id": 7, "caption": "lost"})
    annotations.append({"id": 21, "image_id": 99, "caption": "nobody"})  # unknown id
    path = root / "captions.json"
    path.write_text(json.dumps({"images": entries, "annotations": annotations}))
    return images, path


def convert(images, annotations, out, *flags):
    return main(
        [
            "data",
            "convert",
            "--format",
            "coco",
            "--images",
            str(images),
            "--annotations",
            str(annotations),
            "--out",
            str(out),
            *flags,
        ]
    )


def test_default_policy_skips_reports_and_exits_0(tmp_path, capsys):
    images, annotations = write_coco(tmp_path)
    assert convert(images, annotations, tmp_path / "out", "--shard-size", "2") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["examples"] == 3
    assert manifest["format"] == "coco"
    reasons = sorted(entry["reason"] for entry in manifest["skipped"])
    assert len(reasons) == 3, manifest["skipped"]
    assert "file not found" in reasons
    assert any("99" in reason for reason in reasons)  # the unknown image id
    assert any(r.startswith(("not an image", "truncated")) for r in reasons)
    err = capsys.readouterr().err
    assert "gone.jpg: file not found" in err


def test_strict_exits_2_naming_the_first_bad_record(tmp_path, capsys):
    images, annotations = write_coco(tmp_path)
    assert convert(images, annotations, tmp_path / "out", "--strict") == 2
    err = capsys.readouterr().err
    assert "vlpk data: error:" in err
    assert "99" in err  # the reader meets the unknown image id first


def test_vqa_writes_the_answer_vocabulary(tmp_path):
    from vlpk.data.formats.registry import convert_dataset

    images = tmp_path / "images"
    images.mkdir()
    pixels = np.zeros((8, 8, 3), "uint8")
    (images / "000000000001.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
    questions = {
        "data_type": "shapes",
        "questions": [
            {"image_id": 1, "question": "What colour?", "question_id": 10},
            {"image_id": 1, "question": "How many?", "question_id": 11},
            {"image_id": 5, "question": "Where?", "question_id": 12},  # no file
        ],
    }
    answers = {
        "annotations": [
            {
                "question_id": qid,
                "image_id": image,
                "answer_type": "other",
                "multiple_choice_answer": best,
                "answers": [{"answer": a} for a in given],
            }
            for qid, image, best, given in [
                (10, 1, "red", ["red"] * 7 + ["blue"] * 3),
                (11, 1, "2", ["2"] * 9 + ["red"]),
                (12, 5, "left", ["left"] * 10),
            ]
        ]
    }
    # The official file names: the split is read from them.
    q = tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json"
    a = tmp_path / "v2_mscoco_val2014_annotations.json"
    q.write_text(json.dumps(questions))
    a.write_text(json.dumps(answers))
    manifest = convert_dataset(
        "vqa",
        [q, a],
        images,
        tmp_path / "out",
        top_answers=2,
        verbose=0,
    )
    # One record an image: image 1's two questions share it.
    assert (manifest["examples"], manifest["questions_read"]) == (1, 3)
    # Validation questions are not labelled "train" (no --split given).
    assert manifest["split"] == "val2014"
    assert [s["reason"] for s in manifest["skipped"]] == ["file not found"]
    vocabulary = (tmp_path / "out" / "answer_vocabulary.txt").read_text().split("\n")
    # Given 10 and 9 times ("red" 8).
    assert vocabulary[:2] == ["left", "2"]
    assert manifest["answers"] == 2
