"""VQA shards store each image once; readers give back every question."""

import os

from vlpk.data.formats.registry import convert_dataset
from vlpk.data.shards.convert import convert_examples
from vlpk.data.shards.reading import read_records
from vlpk.data.shards.shard_splits import unpack_split
from vlpk.data.synthetic import read_shapes_vqa, shapes_paths, write_shapes


def folder_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(folder, f))
        for f in os.listdir(folder)
        if ".tfrecord" in f
    )


def test_each_image_is_stored_once_and_every_question_comes_back(tmp_path):
    write_shapes(tmp_path / "shapes", image_size=64, progress=False, splits={"val": 12})
    paths = shapes_paths(tmp_path / "shapes", "val")
    questions = read_shapes_vqa(tmp_path / "shapes", "val")
    images = {q.image_id for q in questions}
    assert len(questions) > 2 * len(images)  # several questions an image
    out = tmp_path / "grouped"
    manifest = convert_dataset(
        "vqa",
        [paths["questions"], paths["annotations"]],
        paths["images_dir"],
        out,
        split="val",
        verbose=0,
        shard_size=5,
    )
    assert (manifest["examples"], manifest["questions_read"]) == (12, len(questions))
    ids = [int(r["image_id"]) for r in read_records(out).as_numpy_iterator()]
    assert sorted(ids) == sorted(images)  # one record an image
    unpacked = unpack_split(out, str(tmp_path / "unpacked"))

    def fields(e):
        return (
            e.question_id,
            e.image_id,
            e.question,
            e.answers,
            e.answer,
            e.answer_type,
        )

    assert sorted(map(fields, unpacked)) == sorted(map(fields, questions))
    # Every question of an image reads the one file written for it.
    by_image = {}
    for e in unpacked:
        by_image.setdefault(e.image_id, set()).add(e.image_path)
    assert all(len(p) == 1 for p in by_image.values())
    # The layout before: one record, and one copy of the image, a question.
    convert_examples(questions, tmp_path / "per_question", split="val", verbose=0)
    assert folder_bytes(out) < folder_bytes(tmp_path / "per_question") / 2
