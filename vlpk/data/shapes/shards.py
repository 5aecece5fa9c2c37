"""Shapes as TFRecord shards in one call: `vlpk data convert` on its COCO files.

For examples and experiments that start from shards (the readers, the
shard splits, streaming pretraining) without the two steps of writing
Shapes and converting it.
"""

import os


def write_shapes_shards(root, splits, image_size=32, seed=0):
    """Writes Shapes under `root` and converts each split to shards.

    Args:
        root: the folder to write: Shapes' files, and `shards/<split>/`.
        splits: `{split name: number of images}`.
        image_size: the images' side in pixels.
        seed: the Shapes seed.

    Returns:
        `{split name: its shards folder}`, each with its `manifest.json`.

    Example:
    >>> import tempfile
    >>> from vlpk.data.shards.convert import read_manifest
    >>> folders = write_shapes_shards(tempfile.mkdtemp(), {"val": 2})
    >>> manifest = read_manifest(folders["val"])
    >>> manifest["examples"], manifest["captions"] >= 2
    (2, True)
    """
    # Imported here: vlpk.data.shards reads Shapes' formats in turn.
    from vlpk.data.formats.coco import read_coco_captions
    from vlpk.data.shapes.writer import write_shapes
    from vlpk.data.shards.convert import convert_examples

    root = os.fspath(root)
    paths = write_shapes(
        root, seed=seed, image_size=image_size, splits=splits, progress=False
    )
    folders = {}
    for split in splits:
        files = paths["splits"][split]
        folders[split] = os.path.join(root, "shards", split)
        examples = read_coco_captions(files["captions"], files["images_dir"])
        convert_examples(examples, folders[split], split=split, verbose=0)
    return folders
