"""The splits of a converted dataset, as the jobs read them.

`vlpk pretrain` and `vlpk finetune` take `data.train`, `data.val` and
`data.test`: folders written by `vlpk data convert`, each with its
`manifest.json`. The two kinds of split are read differently:

- **Training** (`ShardSplit`) streams: `tf.data` reads the shards, and no
  Python list ever holds the examples, so 10M pairs train like 10k. Its
  size (examples, captions) comes from the manifest, so the steps of an
  epoch are known before the first batch.
- **Evaluation** (`unpack_split`) reads every image of a split in order,
  again and again (retrieval after each epoch, captioning, TensorBoard
  samples), with the same code as Shapes and COCO. The split is unpacked
  once into a folder: its image files, `examples.json` (each record's
  fields) and `captions.json` (the references in COCO's captions format,
  as pycocoevalcap reads them). A 5k-image test split costs its JPEG bytes
  on disk and its captions in memory; a second run reuses the folder.
"""

import dataclasses
import json
import os
import re
import sys

import tensorflow as tf

from vlpk.data.records.example import Example
from vlpk.data.records.vqa_groups import expand_questions, vqa_v2_files
from vlpk.data.shards.convert import MANIFEST
from vlpk.data.shards.reading import read_records
from vlpk.errors import InputError

UNPACKED = "examples.json"
REFERENCES = "captions.json"
# An unpacked VQA split's questions and answers, in VQA v2's format.
VQA_QUESTIONS, VQA_ANNOTATIONS = "vqa_questions.json", "vqa_annotations.json"


def vqa_paths(out_dir):
    """`(questions, annotations)` files of a VQA split unpacked to `out_dir`."""
    return os.path.join(out_dir, VQA_QUESTIONS), os.path.join(out_dir, VQA_ANNOTATIONS)


def _say(message):
    print(message, file=sys.stderr, flush=True)


def read_manifest(path, key="data.train"):
    """The manifest of a split folder written by `vlpk data convert`.

    Raises:
        InputError: when `path` is no such folder, or the top folder of a
            conversion with one folder per split.
    """
    manifest_path = os.path.join(os.fspath(path), MANIFEST)
    if not tf.io.gfile.exists(manifest_path):
        raise InputError(
            f"{key}={path}: no {MANIFEST} there. Point it at a split folder "
            "written by `vlpk data convert` (e.g. shards/flickr8k/train)."
        )
    with tf.io.gfile.GFile(manifest_path) as f:
        manifest = json.load(f)
    if isinstance(manifest.get("splits"), list):
        folders = ", ".join(os.path.join(path, s["dir"]) for s in manifest["splits"])
        raise InputError(
            f"{key}={path} holds one folder per split; choose one: {folders}."
        )
    return manifest


@dataclasses.dataclass(frozen=True)
class ShardSplit:
    """A split read as a stream of shards (see the module docstring).

    Args:
        path: the split folder (it has a `manifest.json`).
        manifest: its manifest dict.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import write_shapes_shards
    >>> out = write_shapes_shards(tempfile.mkdtemp(), {"val": 2})["val"]
    >>> split = ShardSplit.open(out)
    >>> len(split), split.captions >= len(split)  # images, captions
    (2, True)
    """

    path: str
    manifest: dict

    @classmethod
    def open(cls, path, key="data.train"):
        """The split at `path`; `key` names the config field in errors."""
        return cls(os.fspath(path), read_manifest(path, key))

    @property
    def name(self):
        return self.manifest.get("split", os.path.basename(self.path))

    @property
    def captions(self):
        """Captions in the split: one training pair each."""
        return int(self.manifest["captions"])

    def __len__(self):
        return int(self.manifest["examples"])

    def caption_dataset(self):
        """Every caption, as a `tf.data.Dataset` of strings (for a vocabulary)."""
        records = read_records(self.path)
        return records.flat_map(
            lambda r: tf.data.Dataset.from_tensor_slices(r["captions"])
        )


def caption_count(examples):
    """Training pairs in a split: a `ShardSplit`'s manifest count, or the
    captions of a list of `Example`s."""
    if isinstance(examples, ShardSplit):
        return examples.captions
    return sum(len(e.captions) for e in examples)


def protocol(manifest):
    """Which benchmark split a manifest is, e.g. `"karpathy-flickr8k test"`.

    Karpathy's files are named `dataset_<name>.json`; other formats give
    their format and split name.
    """
    split = manifest.get("split", "?")
    annotations = manifest.get("annotations") or [""]
    if manifest.get("format") == "karpathy":
        found = re.search(r"dataset_(\w+)\.json$", os.path.basename(annotations[0]))
        return f"karpathy-{found.group(1) if found else 'unknown'} {split}"
    return f"{manifest.get('format', 'shards')} {split}"


def unpack_split(path, out_dir, key="data.test"):
    """The `Example`s of a split folder, its images unpacked to `out_dir`.

    Args:
        path: the split folder (it has a `manifest.json`).
        out_dir: where the image files, `examples.json` and `captions.json`
            go; reused when it holds this manifest's unpacking already.
        key: the config field, for error messages.

    Returns:
        A list of `Example`s in shard order, `image_path` pointing into
        `out_dir` (`""` for a text-only conversation).
    """
    manifest = read_manifest(path, key)
    done = os.path.join(out_dir, UNPACKED)
    if os.path.isfile(done):
        with open(done, encoding="utf-8") as f:
            saved = json.load(f)
        if saved.get("manifest") == _identity(manifest):
            return [_from_dict(e) for e in saved["examples"]]
    _say(f"      unpacking {path} ({manifest['examples']} records) to {out_dir}")
    examples = _unpack(path, os.path.join(out_dir, "images"), manifest["examples"])
    _write_json(os.path.join(out_dir, REFERENCES), coco_references(examples))
    if any(e.question_id is not None for e in examples):
        asked = [e for e in examples if e.question_id is not None]
        vqa_v2_files(asked, *vqa_paths(out_dir))
    _write_json(
        done,
        {
            "manifest": _identity(manifest),
            "examples": [dataclasses.asdict(e) for e in examples],
        },
    )
    return examples


def _unpack(path, image_dir, total):
    """Writes each distinct image once; returns the records as `Example`s."""
    os.makedirs(image_dir, exist_ok=True)
    written, examples = set(), []
    for index, record in enumerate(read_records(path).as_numpy_iterator()):
        image_id = int(record["image_id"])
        image_path = ""
        if record["image"]:
            image_path = os.path.join(
                image_dir, f"{image_id}{_extension(record['image'])}"
            )
            if image_id not in written:
                with open(image_path + ".tmp", "wb") as f:
                    f.write(record["image"])
                os.replace(image_path + ".tmp", image_path)
                written.add(image_id)
        if len(record["questions"]):
            examples += expand_questions(_decoded(record), image_path, image_id)
        else:
            examples.append(_record_example(record, image_path))
        if (index + 1) % 1000 == 0:
            _say(f"      {index + 1}/{total} records")
    return examples


def _decoded(record):
    """A parsed record's grouped-question values, strings decoded."""
    return {
        key: [v.decode("utf-8") if isinstance(v, bytes) else v for v in record[key]]
        for key in (
            "questions",
            "question_ids",
            "answer_counts",
            "answers",
            "consensus_answers",
            "answer_types",
            "question_types",
        )
    }


def _record_example(record, image_path):
    """A parsed record (numpy values) as an `Example`."""

    def text(value):
        return value.decode("utf-8") or None

    def texts(values):
        return tuple(v.decode("utf-8") for v in values)

    question_id = int(record["question_id"])
    return Example(
        image_path=image_path,
        image_id=int(record["image_id"]),
        captions=texts(record["captions"]),
        question=text(record["question"]),
        question_id=None if question_id < 0 else question_id,
        answers=texts(record["answers"]),
        answer=text(record["answer"]),
        answer_type=text(record["answer_type"]),
        label=None if record["label"] < 0 else int(record["label"]),
        roles=texts(record["roles"]),
        texts=texts(record["texts"]),
        conversation_id=text(record["conversation_id"]),
    )


def coco_references(examples):
    """The captions of `examples` in COCO's captions format (one entry per
    image, however many records share it), as pycocoevalcap reads them."""
    images, annotations, seen = [], [], set()
    for example in examples:
        if example.image_id in seen or not example.captions:
            continue
        seen.add(example.image_id)
        images.append(
            {"id": example.image_id, "file_name": os.path.basename(example.image_path)}
        )
        for caption in example.captions:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": example.image_id,
                    "caption": caption,
                }
            )
    return {"images": images, "annotations": annotations}


def _extension(image_bytes):
    if image_bytes[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if image_bytes[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".img"  # decoded by content, whatever the name


def _identity(manifest):
    """What tells one conversion from another (not its timing)."""
    return {k: manifest.get(k) for k in ("split", "examples", "captions", "shards")}


def _from_dict(values):
    fields = {f.name: f for f in dataclasses.fields(Example)}
    return Example(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in values.items()
            if k in fields
        }
    )


def _write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)
