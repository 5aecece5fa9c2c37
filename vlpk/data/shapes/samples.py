"""Tiny stand-ins for real datasets, in their own formats, written from Shapes.

`vlpk data sample --format F --out DIR` writes one, so that the guides, the
course and a first try of `vlpk data convert` need no download. Each format
is laid out as the real dataset ships, and Shapes images stand in for the
photos, so a model learns something from a few hundred steps:

- `karpathy`, Flickr8k with Karpathy's splits: `Flicker8k_Dataset/*.jpg`
  and `dataset_flickr8k.json`;
- `imagefolder`, a labelled set in Keras's layout: `<split>/<class>/*.jpg`;
- `vqa`, VQA v2: `images/<split>/`, `annotations/vqa_<split>_*.json`;
- `llava`, LLaVA conversations: `images/<split>/`, `llava_<split>.json`;
- `csv`, a CC3M-style web CSV: `images/train/`, `pairs.csv`.
"""

import csv
import json
import os
import shlex
import shutil

from vlpk.data.shapes.conversations import write_llava_json
from vlpk.data.shapes.layout import shapes_paths
from vlpk.data.shapes.reader import read_labels, read_shapes
from vlpk.data.shapes.writer import write_shapes
from vlpk.errors import InputError

SAMPLE_FORMATS = ("karpathy", "imagefolder", "vqa", "llava", "csv")


def sample_splits(train_images):
    """`{split: images}`: `train_images` to train, a quarter (at least 4) each
    to val and test."""
    held_out = max(4, train_images // 4)
    return {"train": train_images, "val": held_out, "test": held_out}


def write_flickr8k(root, splits=None, image_size=64, seed=0):
    """Writes `root/Flicker8k_Dataset/` and `root/dataset_flickr8k.json`.

    Flickr8k ships its images in one folder, and Karpathy's split file gives
    each image its split and five sentences.

    Returns:
        `(karpathy_file, image_folder)`.
    """
    splits = splits or {"train": 48, "val": 12, "test": 12}
    shapes = os.path.join(root, "shapes")
    write_shapes(
        shapes, seed=seed, image_size=image_size, splits=splits, progress=False
    )
    images_dir = os.path.join(root, "Flicker8k_Dataset")
    os.makedirs(images_dir, exist_ok=True)
    images, sentence_id = [], 0
    for split in splits:
        for example in read_shapes(shapes, split):
            extension = os.path.splitext(example.image_path)[1]
            name = f"{split}_{example.image_id}{extension}"
            shutil.copyfile(example.image_path, os.path.join(images_dir, name))
            sentences = [
                {"raw": c, "tokens": c.lower().split(), "imgid": len(images)}
                for c in example.captions
            ]
            ids = list(range(sentence_id, sentence_id + len(sentences)))
            images.append(
                {
                    "filename": name,
                    "imgid": len(images),
                    "split": split,
                    "sentences": sentences,
                    "sentids": ids,
                }
            )
            sentence_id += len(sentences)
    path = os.path.join(root, "dataset_flickr8k.json")
    with open(path, "w") as f:
        json.dump({"dataset": "flickr8k", "images": images}, f)
    return path, images_dir


def write_image_folders(root, splits=None, image_size=64, seed=0):
    """Writes `root/<split>/<class>/<image_id>.jpg`: the class is Shapes'
    label (the main shape).

    Returns:
        The class names of the Shapes labels file.
    """
    splits = splits or {"train": 24, "val": 8, "test": 8}
    shapes = os.path.join(root, "shapes")
    write_shapes(
        shapes, seed=seed, image_size=image_size, splits=splits, progress=False
    )
    for split in splits:
        names, labels = read_labels(shapes_paths(shapes, split)["labels"])
        for example in read_shapes(shapes, split):
            folder = os.path.join(root, split, names[labels[example.image_id]])
            os.makedirs(folder, exist_ok=True)
            extension = os.path.splitext(example.image_path)[1]
            name = f"{example.image_id}{extension}"
            shutil.copyfile(example.image_path, os.path.join(folder, name))
    return names


def write_labels_csv(folder_root, split, path):
    """A CSV of `image,label` listing the tree `write_image_folders` wrote."""
    rows = []
    split_root = os.path.join(folder_root, split)
    for name in sorted(os.listdir(split_root)):
        for image in sorted(os.listdir(os.path.join(split_root, name))):
            rows.append((os.path.join(split, name, image), name))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "label"])
        writer.writerows(rows)
    return path


def write_sample(format, out, train_images=48, image_size=64, seed=0):
    """Writes a tiny dataset in `format`'s own layout (see the module).

    Args:
        format: one of `SAMPLE_FORMATS`.
        out: the folder to write; its name also names the shards folder of
            the `convert` commands returned.
        train_images: images in the train split (see `sample_splits`).
        image_size: the images' side in pixels.
        seed: the Shapes seed.

    Returns:
        `{"format", "images", "annotations", "convert"}`: the folder the
        image paths are relative to, the annotation files, and the `vlpk
        data convert` command line(s) for it, joined by ` && `.

    Raises:
        InputError: for an unknown format.

    Example:
    >>> import tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "flickr8k")
    >>> sample = write_sample("karpathy", out, train_images=4, image_size=32)
    >>> os.path.basename(sample["annotations"][0])
    'dataset_flickr8k.json'
    >>> sample["convert"].split(" --out ")[-1]
    'shards/flickr8k'
    """
    if format not in SAMPLE_FORMATS:
        raise InputError(
            f"vlpk data sample writes {', '.join(SAMPLE_FORMATS)}; got {format!r}."
        )
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    splits = sample_splits(train_images)
    writers = {
        "karpathy": _karpathy,
        "imagefolder": _imagefolder,
        "vqa": _vqa,
        "llava": _llava,
        "csv": _csv,
    }
    images, annotations, commands = writers[format](out, splits, image_size, seed)
    return {
        "format": format,
        "images": images,
        "annotations": annotations,
        "convert": " && ".join(commands),
    }


def _command(format, images, annotations, out, split=None):
    """One `vlpk data convert` command line, quoted for a shell."""
    words = ["vlpk", "data", "convert", "--format", format, "--images", images]
    if annotations:
        words += ["--annotations", *annotations]
    if split:
        words += ["--split", split]
    return shlex.join(words + ["--out", out])


def _shards(out, split=None):
    name = os.path.basename(os.path.normpath(out))
    return (
        os.path.join("shards", name, split) if split else os.path.join("shards", name)
    )


def _karpathy(out, splits, image_size, seed):
    path, images = write_flickr8k(out, splits, image_size, seed)
    return images, [path], [_command("karpathy", images, [path], _shards(out))]


def _imagefolder(out, splits, image_size, seed):
    write_image_folders(out, splits, image_size, seed)
    commands = [
        _command("imagefolder", os.path.join(out, s), [], _shards(out, s), s)
        for s in splits
    ]
    return out, [], commands


def _vqa(out, splits, image_size, seed):
    write_shapes(out, seed=seed, image_size=image_size, splits=splits, progress=False)
    annotations, commands = [], []
    for split in splits:
        paths = shapes_paths(out, split)
        files = [paths["questions"], paths["annotations"]]
        annotations += files
        commands.append(
            _command("vqa", paths["images_dir"], files, _shards(out, split), split)
        )
    return os.path.join(out, "images"), annotations, commands


def _llava(out, splits, image_size, seed):
    splits = {"train": splits["train"], "test": splits["test"]}
    write_shapes(out, seed=seed, image_size=image_size, splits=splits, progress=False)
    annotations, commands = [], []
    for split in splits:
        path = os.path.join(out, f"llava_{split}.json")
        written = write_llava_json(shapes_paths(out, split)["images_dir"], path)
        annotations.append(path)
        commands.append(
            _command("llava", written["images_dir"], [path], _shards(out, split), split)
        )
    return os.path.join(out, "images"), annotations, commands


def _csv(out, splits, image_size, seed):
    write_shapes(
        out,
        seed=seed,
        image_size=image_size,
        splits={"train": splits["train"]},
        progress=False,
    )
    images = os.path.join(out, "images")
    path = os.path.join(out, "pairs.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "caption"])
        for example in read_shapes(out, "train"):
            relative = os.path.relpath(example.image_path, images)
            writer.writerows((relative, caption) for caption in example.captions)
    return images, [path], [_command("csv", images, [path], _shards(out))]
