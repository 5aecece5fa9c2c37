"""Tiny labelled image sets, written from Shapes: an image-folder tree and a CSV.

The class is Shapes' classification label (the main shape), so a model can
learn it in a few steps.
"""

import csv
import os
import shutil

from vlpk.data.synthetic import read_labels, read_shapes, shapes_paths, write_shapes


def write_image_folders(root, splits=None, image_size=64, seed=0):
    """Writes `root/<split>/<class>/<image_id>.png` per split.

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
