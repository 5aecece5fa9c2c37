"""A tiny Flickr8k-style dataset, written from Shapes: images and Karpathy's file.

Flickr8k ships its images in one folder (`Flicker8k_Dataset/`) and Karpathy's
split file `dataset_flickr8k.json` gives each image its split and five
sentences. Shapes images stand in for the photos, so that a model can learn
something from a few hundred steps.
"""

import json
import os
import shutil

from vlpk.data.synthetic import read_shapes, write_shapes


def write_flickr8k(root, splits=None, image_size=64, seed=0):
    """Writes `root/Flicker8k_Dataset/*.png` and `root/dataset_flickr8k.json`.

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
            name = (
                f"{split}_{example.image_id}{os.path.splitext(example.image_path)[1]}"
            )
            shutil.copyfile(example.image_path, os.path.join(images_dir, name))
            sentences = [
                {"raw": c, "tokens": c.lower().split(), "imgid": len(images)}
                for c in example.captions
            ]
            images.append(
                {
                    "filename": name,
                    "imgid": len(images),
                    "split": split,
                    "sentences": sentences,
                    "sentids": list(range(sentence_id, sentence_id + len(sentences))),
                }
            )
            sentence_id += len(sentences)
    path = os.path.join(root, "dataset_flickr8k.json")
    with open(path, "w") as f:
        json.dump({"dataset": "flickr8k", "images": images}, f)
    return path, images_dir
