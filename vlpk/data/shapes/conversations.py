"""Shapes as LLaVA conversation JSON, for instruction tuning on synthetic data.

Two variants, after LLaVA's two training stages:

- `"instruct"` (visual instruction tuning, LLaVA's `llava_v1_5_mix665k`):
  one conversation per image, a caption turn and then every VQA question
  of the image as a further turn:

  ```
  human: "<image>\\nDescribe the image."  gpt: "a red circle left of ..."
  human: "how many shapes are there?"    gpt: "2"
  ...
  ```

- `"alignment"` (feature alignment, LLaVA's `blip_laion_cc_sbu_558k`):
  captions only, one single-turn record per caption, so every caption is
  used.

The records are those `vlpk.data.formats.llava.read_llava` reads, with the image
path relative to the split's image folder: write them with
`write_llava_json`, then `vlpk data convert --format llava --annotations
FILE --images <root>/images/<split>`.
"""

import json
import os

from vlpk.data.formats.llava import GPT, HUMAN, IMAGE_TOKEN
from vlpk.data.shapes.reader import read_shapes, read_shapes_vqa
from vlpk.errors import InputError

DESCRIBE = "Describe the image."
VARIANTS = ("instruct", "alignment")


def shapes_conversations(
    captioned, questioned=(), variant="instruct", instruction=DESCRIBE
):
    """LLaVA records of Shapes examples.

    Args:
        captioned: caption `Example`s, one per image (`read_shapes`).
        questioned: VQA `Example`s, one per question (`read_shapes_vqa`);
            ignored by `"alignment"`.
        variant: `"instruct"` or `"alignment"` (see the module).
        instruction: the human turn that asks for a caption; `<image>\\n`
            goes before it.

    Returns:
        A list of `{"id", "image", "conversations"}` dicts, in image order.
        `"instruct"`: one per image, id `<image_id:012d>`, the image's first
        caption (Shapes captions come in random order, so it is a random
        one) then its questions in order. `"alignment"`: one per caption,
        id `<image_id:012d>-<k>`.

    Raises:
        InputError: for an unknown `variant`.

    Example:
    >>> from vlpk.data.records.example import Example
    >>> image = Example("images/val/000000000007.jpg", 7, ("a red circle",))
    >>> question = Example("images/val/000000000007.jpg", 7, (),
    ...                    question="what shape is it?", answer="circle")
    >>> record = shapes_conversations([image], [question])[0]
    >>> record["id"], record["image"]
    ('000000000007', '000000000007.jpg')
    >>> [turn["value"] for turn in record["conversations"]]
    ['<image>\\nDescribe the image.', 'a red circle', 'what shape is it?', 'circle']
    """
    if variant not in VARIANTS:
        raise InputError(f"Unknown variant {variant!r}; choose one of {VARIANTS}.")
    ask = f"{IMAGE_TOKEN}\n{instruction}"
    if variant == "alignment":
        return [
            _record(f"{e.image_id:012d}-{k}", e, [(ask, caption)])
            for e in captioned
            for k, caption in enumerate(e.captions)
        ]
    by_image = {}
    for q in questioned:
        by_image.setdefault(q.image_id, []).append((q.question, q.answer))
    return [
        _record(
            f"{e.image_id:012d}",
            e,
            [(ask, e.captions[0])] + by_image.get(e.image_id, []),
        )
        for e in captioned
    ]


def _record(record_id, example, rounds):
    """One LLaVA record: `rounds` of (human text, gpt text)."""
    turns = []
    for question, answer in rounds:
        turns.append({"from": HUMAN, "value": question})
        turns.append({"from": GPT, "value": answer})
    return {
        "id": record_id,
        "image": os.path.basename(example.image_path),
        "conversations": turns,
    }


def write_llava_json(
    split_dir, path, split=None, variant="instruct", instruction=DESCRIBE
):
    """Writes one Shapes split as a LLaVA conversation file.

    Args:
        split_dir: a split's image folder (`<root>/images/<split>`), whose
            name gives the split; or the dataset root, with `split`.
        path: the JSON file to write (its folder is created if needed).
        split: the split, when `split_dir` is the dataset root.
        variant: `"instruct"` or `"alignment"` (see `shapes_conversations`).
        instruction: the human turn that asks for a caption.

    Returns:
        `{"path", "images_dir", "records"}`: the file, the folder its image
        paths are relative to (`read_llava`'s `images_dir`) and the number
        of records written.

    Raises:
        InputError: (a `ValueError`) when the folder holds no Shapes dataset
            or split, or for an unknown `variant`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data.synthetic import write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"train": 4},
    ...                  progress=False)
    >>> written = write_llava_json(
    ...     os.path.join(root, "images", "train"),
    ...     os.path.join(root, "llava_train.json"))
    >>> written["records"]
    4
    """
    if variant not in VARIANTS:
        raise InputError(f"Unknown variant {variant!r}; choose one of {VARIANTS}.")
    root, split = _root_and_split(split_dir, split)
    captioned = read_shapes(root, split)
    questioned = read_shapes_vqa(root, split) if variant == "instruct" else ()
    records = shapes_conversations(captioned, questioned, variant, instruction)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)  # never a half-written file
    images_dir = os.path.join(root, "images", split)
    return {"path": path, "images_dir": images_dir, "records": len(records)}


def _root_and_split(split_dir, split):
    """`(root, split)` from a split's image folder, or a root and a split."""
    path = os.path.abspath(os.fspath(split_dir))
    if split is not None:
        return path, split
    parent = os.path.dirname(path)
    if os.path.basename(parent) == "images" and os.path.isdir(path):
        return os.path.dirname(parent), os.path.basename(path)
    raise InputError(
        f"{path}: pass split= with a Shapes dataset root, or give a split's image "
        "folder (<root>/images/<split>)."
    )
