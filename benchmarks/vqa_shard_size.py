"""Size of VQA shards on Shapes: one record an image against one a question.

`vlpk data convert --format vqa` writes each image once with its questions
(`vlpk.data.records.vqa_groups`); before, every question's record carried its own
copy of the image. Both layouts are written from the same Shapes split.

    python benchmarks/vqa_shard_size.py --images 500
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vlpk.data.formats.registry import convert_dataset  # noqa: E402
from vlpk.data.shards.convert import convert_examples  # noqa: E402
from vlpk.data.synthetic import read_shapes_vqa, shapes_paths, write_shapes  # noqa: E402


def shard_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(folder, f))
        for f in os.listdir(folder)
        if ".tfrecord" in f
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--json", default="benchmarks/results/vqa_shard_size.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        write_shapes(
            root,
            image_size=args.image_size,
            progress=False,
            splits={"val": args.images},
        )
        paths = shapes_paths(root, "val")
        questions = read_shapes_vqa(root, "val")
        grouped = os.path.join(root, "grouped")
        files = [paths["questions"], paths["annotations"]]
        convert_dataset(
            "vqa", files, paths["images_dir"], grouped, split="val", verbose=0
        )
        per_question = os.path.join(root, "per_question")
        convert_examples(questions, per_question, split="val", verbose=0)
        result = {
            "images": args.images,
            "image_size": args.image_size,
            "questions": len(questions),
            "grouped_bytes": shard_bytes(grouped),
            "per_question_bytes": shard_bytes(per_question),
        }
    result["ratio"] = result["per_question_bytes"] / result["grouped_bytes"]
    print(json.dumps(result, indent=1))
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
