"""Reads Karpathy's split files (`dataset_coco.json`, `dataset_flickr8k.json`,
`dataset_flickr30k.json`), the splits most captioning and retrieval papers
report on.

```
{"dataset": "coco",
 "images": [{"filepath": "val2014", "filename": "COCO_val2014_...42.jpg",
             "imgid": 0, "cocoid": 42, "split": "test",
             "sentences": [{"raw": "A man riding a wave.", "tokens": [...]}]}]}
```

`filepath` exists only in the COCO file; `cocoid` only there too.
"""

import os

from vlpk.data.records import Example, get_field, read_json
from vlpk.errors import InputError

SPLITS = ("train", "val", "test", "restval")


def read_karpathy(path, images_dir, split=None, report=None):
    """Reads one Karpathy split file into one `Example` per image.

    Args:
        path: `dataset_coco.json`, `dataset_flickr8k.json` or
            `dataset_flickr30k.json`.
        images_dir: the image folder (for COCO, the one holding `train2014/`
            and `val2014/`).
        split: `"train"`, `"val"`, `"test"`, `"restval"`, a tuple of them
            (the usual training set is `("train", "restval")`), or `None` for
            every image.
        report: `report(source, reason)` for a bad image record, which is then
            skipped; `None` (default) raises `InputError` instead.

    Returns:
        `Example`s in file order with `image_path`, `image_id` (`cocoid` when
        present, else `imgid`) and the `raw` captions.

    Example:
    >>> train = read_karpathy("dataset_flickr30k.json", "flickr30k-images",
    ...                       split="train")
    """
    path = os.fspath(path)
    splits = (split,) if isinstance(split, str) else split
    for name in splits or ():
        if name not in SPLITS:
            raise InputError(f"Unknown Karpathy split {name!r}; choose from {SPLITS}.")
    data = read_json(path, "Karpathy split")
    images = get_field(data, "images", path, "the top level", list)
    examples = []
    for index, image in enumerate(images):
        where = f"images[{index}]"
        try:
            example = _read_image(image, path, where, images_dir, splits)
        except InputError as error:
            if report is None:
                raise
            report(f"{path}: {where}", str(error).removeprefix(f"{path}: "))
            continue
        if example is not None:
            examples.append(example)
    return examples


def _read_image(image, path, where, images_dir, splits):
    """One image's `Example`, or `None` when it is in another split."""
    if splits is not None and get_field(image, "split", path, where, str) not in splits:
        return None
    filename = get_field(image, "filename", path, where, str)
    folder = image.get("filepath", "")
    image_id = image.get("cocoid", get_field(image, "imgid", path, where, int))
    sentences = get_field(image, "sentences", path, where, list)
    captions = tuple(
        get_field(s, "raw", path, f"{where}['sentences'][{i}]", str)
        for i, s in enumerate(sentences)
    )
    return Example(
        image_path=os.path.join(images_dir, folder, filename),
        image_id=int(image_id),
        captions=captions,
    )
