"""Shapes: a tiny synthetic vision-language dataset that runs anywhere.

Each image shows one to three coloured shapes on a plain background. Every
image comes with paraphrased captions, VQA-style questions and a class label,
all derived from the same scene description, so they are always true:

- captions bind attributes to objects and use spatial relations ("a red circle
  left of a blue square" and "a blue circle left of a red square" describe
  different images), so a model must look at the image to match them;
- questions cover colour, shape, counting, existence and relations, with
  balanced yes/no answers;
- the label is the shape of the largest object.

Objects sit in distinct cells of a 3x3 grid, a little jittered. Two objects in
different columns are separated by a visible gap, two in the same column always
overlap horizontally (likewise for rows), so "A is left of B" (A's box ends
before B's begins) is never a borderline call.

`write_shapes` writes the dataset in the real COCO captions and VQA v2 formats,
so the very readers that serve COCO and VQA also serve Shapes.

Example:

>>> from vlpk.data import synthetic
>>> example = synthetic.generate_examples(1, seed=0)[0]
>>> example["image"].shape
(64, 64, 3)
>>> paths = synthetic.write_shapes("/tmp/shapes", progress=False)  # doctest: +SKIP
>>> train = synthetic.read_shapes("/tmp/shapes", "train")  # doctest: +SKIP
"""

import dataclasses
import json
import os
import re
import shutil
import sys
import time
import uuid
import zlib

import numpy as np
from PIL import Image, ImageDraw

from vlpk.data.coco import read_coco_captions
from vlpk.data.records import MissingFileError, get_field, read_json
from vlpk.data.vqa import read_vqa
from vlpk.errors import InputError

SHAPES = ("circle", "square", "triangle", "diamond")
COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
COLOR_RGB = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 90, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 200),
    "orange": (250, 140, 20),
}
SIZES = ("small", "large")
CLASS_NAMES = SHAPES
DEFAULT_SPLITS = {"train": 2000, "val": 200, "test": 500}

# Bump when the generator changes, so cached datasets are regenerated.
FORMAT_VERSION = 1
MARKER = "shapes.json"

_BACKGROUND = (40, 40, 40)
_NOISE = 6  # +- noise on every channel, so images are not perfectly flat
_SIDE = {"small": 0.4, "large": 0.7}  # object side, as a fraction of a cell
_ROWS = ("top", "middle", "bottom")
_COLUMNS = ("left", "center", "right")
_OPPOSITE = {
    "left of": "to the right of",
    "to the right of": "left of",
    "above": "below",
    "below": "above",
}
_NUMBER_WORDS = ("zero", "one", "two", "three")
_JPEG_QUALITY = 95
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


# ---------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------


def generate_example(rng, image_size=64):
    """Generates one Shapes image with its captions, questions and label.

    Args:
        rng: a `numpy.random.Generator`; all randomness comes from it.
        image_size: side of the square RGB image, in pixels (at least 24).

    Returns:
        A dict with:
        - `image`: uint8 array of shape `(image_size, image_size, 3)`;
        - `objects`: list of dicts `shape`, `color`, `size` and `bbox`, where
          `bbox` is `(x0, y0, x1, y1)` in pixels, `x1`/`y1` exclusive;
        - `captions`: list of 5 distinct captions;
        - `questions`: list of dicts `question`, `answer`, `answer_type`
          (`"yes/no"`, `"number"` or `"other"`) and `question_type`
          (`"color"`, `"shape"`, `"count"`, `"existence"` or `"relation"`);
        - `label`: index in `CLASS_NAMES` of the largest object's shape (ties
          broken by the leftmost, then topmost object).

    Example:

    >>> import numpy as np
    >>> from vlpk.data.synthetic import generate_example
    >>> example = generate_example(np.random.default_rng(0), image_size=32)
    >>> example["image"].shape, len(example["captions"])
    ((32, 32, 3), 5)
    """
    _check_image_size(image_size)
    objects = _sample_objects(rng, image_size)
    return {
        "image": _draw(objects, image_size, rng),
        "objects": objects,
        "captions": _captions(objects, image_size, rng),
        "questions": _questions(objects, rng),
        "label": _label(objects),
    }


def generate_examples(num_examples, seed=0, image_size=64):
    """Generates `num_examples` Shapes examples, deterministically from `seed`.

    Args:
        num_examples: how many examples to generate.
        seed: a non-negative integer seed; the same seed gives the same examples.
        image_size: side of the square images, in pixels.

    Returns:
        A list of dicts as returned by `generate_example`.

    Example:

    >>> from vlpk.data.synthetic import generate_examples
    >>> examples = generate_examples(3, seed=1, image_size=32)
    >>> [len(e["objects"]) for e in examples]  # doctest: +SKIP
    [2, 1, 3]
    """
    rng = np.random.default_rng(seed)
    return [generate_example(rng, image_size) for _ in range(num_examples)]


def _check_image_size(image_size):
    if not isinstance(image_size, int) or image_size < 24:
        raise InputError(
            f"image_size must be an integer of at least 24, got {image_size!r}."
        )


def _sample_objects(rng, image_size):
    """Samples 1-3 objects in distinct grid cells, with distinct (colour, shape).

    Distinct (colour, shape) pairs mean "the red circle" always names exactly
    one object, which keeps questions and relation captions unambiguous.
    """
    count = int(rng.integers(1, 4))
    cells = rng.choice(9, size=count, replace=False)
    kinds = rng.choice(len(COLORS) * len(SHAPES), size=count, replace=False)
    objects = []
    for cell, kind in zip(cells, kinds):
        color, shape = divmod(int(kind), len(SHAPES))
        size = SIZES[int(rng.integers(len(SIZES)))]
        row, column = divmod(int(cell), 3)
        objects.append(
            {
                "shape": SHAPES[shape],
                "color": COLORS[color],
                "size": size,
                "bbox": _place(row, column, size, image_size, rng),
            }
        )
    return objects


def _place(row, column, size, image_size, rng):
    """Returns the bbox of an object of `size` jittered around a cell's centre.

    The jitter is small enough that (a) the object keeps a `gap` to the
    neighbouring cells, so objects in different columns never touch, and (b)
    it stays within a quarter of its own side of the centre, so two objects in
    the same column overlap horizontally by about half the smaller one's width.
    Relations then follow the grid, never a borderline pixel or two.
    """
    cell = image_size // 3
    side = round(_SIDE[size] * cell)
    gap = max(2, cell // 8)
    jitter = max(0, min(side // 4, (cell - gap - side) // 2))
    dx, dy = (int(d) for d in rng.integers(-jitter, jitter + 1, size=2))
    x0 = column * cell + (cell - side) // 2 + dx
    y0 = row * cell + (cell - side) // 2 + dy
    return (x0, y0, x0 + side, y0 + side)


def _draw(objects, image_size, rng):
    """Draws the objects on a plain background with slight noise."""
    image = Image.new("RGB", (image_size, image_size), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    for obj in objects:
        x0, y0, x1, y1 = obj["bbox"]
        # PIL boxes include their last pixel; our bboxes exclude it.
        right, bottom = x1 - 1, y1 - 1
        cx, cy = (x0 + right) / 2, (y0 + bottom) / 2
        fill = COLOR_RGB[obj["color"]]
        if obj["shape"] == "circle":
            draw.ellipse((x0, y0, right, bottom), fill=fill)
        elif obj["shape"] == "square":
            draw.rectangle((x0, y0, right, bottom), fill=fill)
        elif obj["shape"] == "triangle":
            draw.polygon([(cx, y0), (right, bottom), (x0, bottom)], fill=fill)
        else:  # diamond
            draw.polygon([(cx, y0), (right, cy), (cx, bottom), (x0, cy)], fill=fill)
    pixels = np.asarray(image, dtype=np.int16)
    noise = rng.integers(-_NOISE, _NOISE + 1, size=pixels.shape, dtype=np.int16)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)


def _label(objects):
    """Class of the largest object; ties go to the leftmost, then topmost."""
    largest = min(
        objects,
        key=lambda o: (-SIZES.index(o["size"]), o["bbox"][0], o["bbox"][1]),
    )
    return SHAPES.index(largest["shape"])


# ---------------------------------------------------------------------------
# Relations and phrases
# ---------------------------------------------------------------------------


def is_left_of(a, b):
    """Whether object `a`'s bbox lies entirely left of object `b`'s.

    Example:

    >>> from vlpk.data.synthetic import is_left_of
    >>> is_left_of({"bbox": (0, 0, 5, 5)}, {"bbox": (8, 0, 13, 5)})
    True
    """
    return a["bbox"][2] <= b["bbox"][0]


def is_above(a, b):
    """Whether object `a`'s bbox lies entirely above object `b`'s.

    Example:

    >>> from vlpk.data.synthetic import is_above
    >>> is_above({"bbox": (0, 0, 5, 5)}, {"bbox": (0, 8, 5, 13)})
    True
    """
    return a["bbox"][3] <= b["bbox"][1]


def holds(relation, a, b):
    """Whether `a <relation> b` is true, for a relation of the caption grammar.

    Args:
        relation: `"left of"`, `"to the right of"`, `"above"` or `"below"`.
        a: an object dict with a `bbox`.
        b: an object dict with a `bbox`.

    Example:

    >>> from vlpk.data.synthetic import holds
    >>> holds("below", {"bbox": (0, 8, 5, 13)}, {"bbox": (0, 0, 5, 5)})
    True
    """
    if relation == "left of":
        return is_left_of(a, b)
    if relation == "to the right of":
        return is_left_of(b, a)
    if relation == "above":
        return is_above(a, b)
    if relation == "below":
        return is_above(b, a)
    raise ValueError(f"Unknown relation {relation!r}; expected one of {_OPPOSITE}.")


def _count(objects, **attributes):
    """How many objects have all the given attributes, e.g. `color="red"`."""
    return sum(all(o[k] == v for k, v in attributes.items()) for o in objects)


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def _phrase(obj, with_size):
    """'a red circle' or 'a small red circle'."""
    words = ([obj["size"]] if with_size else []) + [obj["color"], obj["shape"]]
    return f"{_article(words[0])} {' '.join(words)}"


def _reference(obj, objects):
    """The shortest definite description naming `obj` alone: 'the circle' or
    'the red circle' (unique because (colour, shape) pairs are distinct)."""
    if _count(objects, shape=obj["shape"]) == 1:
        return f"the {obj['shape']}"
    return f"the {obj['color']} {obj['shape']}"


def _position(obj, image_size):
    """Where the object sits in the 3x3 grid: 'in the top left', 'on the right'."""
    cell = image_size // 3
    x0, y0, x1, y1 = obj["bbox"]
    row = min(2, (y0 + y1) // 2 // cell)
    column = min(2, (x0 + x1) // 2 // cell)
    if (row, column) == (1, 1):
        return "in the center"
    if row == 1:
        return f"on the {_COLUMNS[column]}"
    if column == 1:
        return f"at the {_ROWS[row]}"
    return f"in the {_ROWS[row]} {_COLUMNS[column]}"


def _true_relations(objects):
    """All (a, relation, b) statements that hold between distinct objects."""
    return [
        (a, relation, b)
        for a in objects
        for b in objects
        if a is not b
        for relation in _OPPOSITE
        if holds(relation, a, b)
    ]


def _join(phrases):
    """'A', 'A and B', 'A, B and C'."""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


# ---------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------


def _captions(objects, image_size, rng, count=5):
    """`count` distinct captions, in random order."""
    if len(objects) == 1:
        candidates = _single_object_captions(objects[0], image_size)
    else:
        candidates = _multi_object_captions(objects, rng)
    # dict.fromkeys drops duplicates but keeps the order.
    captions = list(dict.fromkeys(candidates))[:count]
    return [captions[i] for i in rng.permutation(len(captions))]


def _single_object_captions(obj, image_size):
    size, color, shape = obj["size"], obj["color"], obj["shape"]
    return [
        f"{_phrase(obj, True)} {_position(obj, image_size)}",
        _phrase(obj, False),
        f"there is {_phrase(obj, True)}",
        f"a single {color} {shape} {_position(obj, image_size)}",
        f"{_article(size)} {size} {shape} colored {color}",
    ]


def _multi_object_captions(objects, rng):
    """Up to three relation captions, then captions that list every object."""

    def coin():
        # Whether to mention an object's size: captions vary in detail.
        return bool(rng.integers(2))

    statements = _true_relations(objects)
    relation_captions = [
        f"{_phrase(a, coin())} {relation} {_phrase(b, coin())}"
        for a, relation, b in (statements[i] for i in rng.permutation(len(statements)))
    ]
    listed = [objects[i] for i in rng.permutation(len(objects))]
    phrases = [_phrase(o, coin()) for o in listed]
    sized = [_phrase(o, True) for o in listed]
    number = _NUMBER_WORDS[len(objects)]
    listings = [
        f"{number} shapes: {_join(phrases)}",
        f"there is {_join(sized)}",
        f"an image with {_join(phrases[::-1])}",
    ]
    return relation_captions[:3] + listings


# ---------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------


def _question(question, answer, answer_type, question_type):
    return {
        "question": question,
        "answer": answer,
        "answer_type": answer_type,
        "question_type": question_type,
    }


def _pick(rng, candidates):
    """One random candidate, or None when there is none."""
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


def _questions(objects, rng):
    """One question of each kind that has an unambiguous answer.

    Each builder returns a list of questions, empty when no question of its
    kind has an unambiguous answer for this scene.
    """
    builders = (
        _count_questions,
        _color_questions,
        _shape_questions,
        _existence_questions,
        _relation_questions,
        _relation_check_questions,
    )
    return [question for build in builders for question in build(objects, rng)]


def _count_questions(objects, rng):
    """'how many shapes are there?' plus a count of one colour or one shape."""
    total = _question(
        "how many shapes are there?", str(len(objects)), "number", "count"
    )
    # Half the time ask about an attribute that is present, so the answer is
    # not almost always 0.
    source = _pick(rng, objects) if rng.integers(2) else None
    if rng.integers(2):
        color = source["color"] if source else _pick(rng, COLORS)
        n = _count(objects, color=color)
        question = f"how many {color} shapes are there?"
    else:
        shape = source["shape"] if source else _pick(rng, SHAPES)
        n = _count(objects, shape=shape)
        question = f"how many {shape}s are there?"
    return [total, _question(question, str(n), "number", "count")]


def _color_questions(objects, rng):
    """'what color is the circle?', asked about an object its shape names alone
    (or its size and shape)."""
    candidates = []
    for obj in objects:
        if _count(objects, shape=obj["shape"]) == 1:
            candidates.append((f"the {obj['shape']}", obj))
        elif _count(objects, shape=obj["shape"], size=obj["size"]) == 1:
            candidates.append((f"the {obj['size']} {obj['shape']}", obj))
    picked = _pick(rng, candidates)
    if picked is None:
        return []
    reference, obj = picked
    return [_question(f"what color is {reference}?", obj["color"], "other", "color")]


def _shape_questions(objects, rng):
    """'what shape is the red object?', asked when one object has that colour."""
    unique = [o for o in objects if _count(objects, color=o["color"]) == 1]
    obj = _pick(rng, unique)
    if obj is None:
        return []
    question = f"what shape is the {obj['color']} object?"
    return [_question(question, obj["shape"], "other", "shape")]


def _existence_questions(objects, rng):
    """'is there a blue square?', answered yes or no with equal probability.

    Half the "no" questions recombine a colour and a shape that are both in the
    image ("is there a blue circle?" next to a red circle and a blue square),
    so they can only be answered by binding colours to shapes.
    """
    present = {(o["color"], o["shape"]) for o in objects}
    if rng.integers(2):
        obj = _pick(rng, objects)
        color, shape, answer = obj["color"], obj["shape"], "yes"
    else:
        absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present]
        swapped = [
            (c, s)
            for c, s in absent
            if any(o["color"] == c for o in objects)
            and any(o["shape"] == s for o in objects)
        ]
        color, shape = _pick(rng, swapped if swapped and rng.integers(2) else absent)
        answer = "no"
    question = f"is there {_article(color)} {color} {shape}?"
    return [_question(question, answer, "yes/no", "existence")]


def _relation_questions(objects, rng):
    """'what is left of the blue square?', asked when exactly one object is."""
    candidates = []
    for anchor in objects:
        for relation in _OPPOSITE:
            matches = [
                o for o in objects if o is not anchor and holds(relation, o, anchor)
            ]
            if len(matches) == 1:
                candidates.append((relation, anchor, matches[0]))
    picked = _pick(rng, candidates)
    if picked is None:
        return []
    relation, anchor, target = picked
    reference = _reference(anchor, objects)
    if rng.integers(2):
        question = f"what is {relation} {reference}?"
        return [_question(question, target["shape"], "other", "relation")]
    question = f"what color is the shape {relation} {reference}?"
    return [_question(question, target["color"], "other", "relation")]


def _relation_check_questions(objects, rng):
    """'is the red circle left of the blue square?', yes or no equally often.

    Only pairs separated along the asked axis are used: the "no" question is the
    opposite relation, which is then clearly false.
    """
    statements = _true_relations(objects)
    picked = _pick(rng, statements)
    if picked is None:
        return []
    a, relation, b = picked
    answer = "yes"
    if rng.integers(2):
        relation, answer = _OPPOSITE[relation], "no"
    question = f"is {_reference(a, objects)} {relation} {_reference(b, objects)}?"
    return [_question(question, answer, "yes/no", "relation")]


# ---------------------------------------------------------------------------
# Writing the dataset
# ---------------------------------------------------------------------------


def split_seed(seed, split):
    """The seed the examples of `split` are generated from.

    Each split gets its own stream, derived from `seed` and the split's name,
    so `write_shapes` can be reproduced in memory:
    `generate_examples(n, split_seed(seed, split), image_size)`.

    Example:

    >>> from vlpk.data.synthetic import split_seed
    >>> split_seed(0, "train") != split_seed(0, "val")
    True
    """
    # crc32, not hash(): Python salts string hashes per process.
    entropy = [seed, zlib.crc32(split.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def shapes_paths(root, split):
    """Paths of one split of a Shapes dataset written by `write_shapes`.

    Args:
        root: the dataset's root folder.
        split: the split name, e.g. `"train"`.

    Returns:
        A dict with `images_dir`, `captions` (COCO captions JSON), `questions`
        and `annotations` (VQA v2 JSON) and `labels`.

    Example:

    >>> from vlpk.data.synthetic import shapes_paths
    >>> shapes_paths("/data/shapes", "val")["captions"]
    '/data/shapes/annotations/captions_val.json'
    """
    root = os.fspath(root)
    annotations = os.path.join(root, "annotations")
    return {
        "images_dir": os.path.join(root, "images", split),
        "captions": os.path.join(annotations, f"captions_{split}.json"),
        "questions": os.path.join(annotations, f"vqa_{split}_questions.json"),
        "annotations": os.path.join(annotations, f"vqa_{split}_annotations.json"),
        "labels": os.path.join(annotations, f"labels_{split}.json"),
    }


def write_shapes(
    root, seed=0, image_size=64, splits=None, overwrite=False, progress=True
):
    """Writes the Shapes dataset to `root` in the COCO and VQA v2 formats.

    The layout is:

    ```
    root/shapes.json                                 parameters and counts
    root/images/<split>/<image_id:012d>.jpg
    root/annotations/captions_<split>.json           COCO captions
    root/annotations/vqa_<split>_questions.json      VQA v2 questions
    root/annotations/vqa_<split>_annotations.json    VQA v2 answers
    root/annotations/labels_<split>.json             class labels
    ```

    Image ids are unique across splits. When `root` already holds a Shapes
    dataset written with the same parameters, nothing is regenerated. The
    dataset is generated in a temporary sibling folder and renamed into place,
    so an interrupted run never leaves a dataset that looks complete.

    Args:
        root: the folder to write to.
        seed: non-negative integer seed; each split derives its own seed from it
            (see `split_seed`).
        image_size: side of the square images, in pixels (at least 24).
        splits: mapping of split name -> number of images. Defaults to
            `{"train": 2000, "val": 200, "test": 500}`.
        overwrite: replace a dataset (or any folder) at `root` that was written
            with other parameters.
        progress: print one line per split to stderr.

    Returns:
        `{"root": root, "splits": {split: shapes_paths(root, split)}}`.

    Raises:
        InputError: (a `ValueError`) when the arguments are invalid, or when
            `root` exists with other contents and `overwrite` is False.

    Example:

    >>> from vlpk.data.synthetic import write_shapes
    >>> paths = write_shapes(  # doctest: +SKIP
    ...     "/tmp/shapes", splits={"train": 100, "val": 20}, progress=False
    ... )
    >>> paths["splits"]["train"]["captions"]  # doctest: +SKIP
    '/tmp/shapes/annotations/captions_train.json'
    """
    splits = dict(DEFAULT_SPLITS if splits is None else splits)
    _check_arguments(seed, image_size, splits)
    root = os.path.abspath(os.fspath(root))
    params = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "image_size": image_size,
        "splits": splits,
    }
    if _holds_dataset(root, params):
        _log(progress, f"Shapes: using the cached dataset in {root}")
        return _all_paths(root, splits)
    if os.path.lexists(root) and not overwrite and not _is_empty_dir(root):
        raise InputError(_conflict_message(root))

    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    staging = _sibling(root, "tmp")
    try:
        counts = _write_splits(staging, params, progress)
        # The marker is written last: its presence means the dataset is whole.
        _write_json(os.path.join(staging, MARKER), {**params, "counts": counts}, 2)
        _move_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _log(progress, f"Shapes: dataset ready in {root}")
    return _all_paths(root, splits)


def _check_arguments(seed, image_size, splits):
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}.")
    _check_image_size(image_size)
    if not splits:
        raise InputError("splits must name at least one split, e.g. {'train': 100}.")
    for name, count in splits.items():
        if not isinstance(name, str) or not _SPLIT_NAME.match(name):
            raise InputError(
                f"Split names are used in file names and may only hold letters, "
                f"digits, '_' and '-'; got {name!r}."
            )
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InputError(
                f"splits[{name!r}] must be a non-negative integer, got {count!r}."
            )


def _read_marker(root):
    """The parameters stored in `root`'s marker, or None when unreadable."""
    try:
        with open(os.path.join(root, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _holds_dataset(root, params):
    marker = _read_marker(root)
    if marker is None:
        return False
    stored = {key: marker.get(key) for key in params}
    # Compare the split order too: image ids are numbered across splits in order.
    if stored != params or list(stored["splits"]) != list(params["splits"]):
        return False
    # Cheap guard against annotation files deleted by hand since.
    return all(
        os.path.exists(path)
        for split in params["splits"]
        for path in shapes_paths(root, split).values()
    )


def _is_empty_dir(path):
    return os.path.isdir(path) and not os.listdir(path)


def _conflict_message(root):
    marker = _read_marker(root)
    if marker is None:
        found = "exists and is not a Shapes dataset"
    else:
        stored = {key: marker.get(key) for key in ("seed", "image_size", "splits")}
        found = f"holds a Shapes dataset written with other parameters {stored}"
    return (
        f"{root} {found}. Pass overwrite=True to replace it, or choose another "
        "directory."
    )


def _move_into_place(staging, root):
    """Renames `staging` to `root`, replacing whatever was there."""
    if os.path.lexists(root):
        # Move the old folder aside first: a rename cannot replace a non-empty
        # folder, and deleting first would leave no dataset if we crash.
        old = _sibling(root, "old")
        os.rename(root, os.path.join(old, "dataset"))
        os.rename(staging, root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, root)


def _sibling(root, kind):
    """Creates a hidden, uniquely named folder next to `root`.

    Next to `root`, so renames stay on one file system (and are atomic); not
    `tempfile.mkdtemp`, whose private 0o700 mode the dataset would inherit.
    """
    path = os.path.join(
        os.path.dirname(root), f".{os.path.basename(root)}.{kind}-{uuid.uuid4().hex}"
    )
    os.mkdir(path)
    return path


def _write_splits(root, params, progress):
    """Writes every split under `root`; returns the per-split counts."""
    os.makedirs(os.path.join(root, "annotations"))
    counts = {}
    next_image_id = 1
    for split, num_images in params["splits"].items():
        start = time.perf_counter()
        seed = split_seed(params["seed"], split)
        counts[split] = _write_split(
            root, split, num_images, seed, params["image_size"], next_image_id
        )
        next_image_id += num_images
        seconds = time.perf_counter() - start
        _log(
            progress,
            f"Shapes: wrote {split} ({num_images} images, "
            f"{counts[split]['questions']} questions) in {seconds:.1f}s",
        )
    return counts


def _write_split(root, split, num_images, seed, image_size, first_image_id):
    """Writes the images and annotation files of one split."""
    paths = shapes_paths(root, split)
    os.makedirs(paths["images_dir"])
    info = {
        "description": "vlpk synthetic Shapes dataset",
        "version": str(FORMAT_VERSION),
        "split": split,
    }
    images, captions, questions, answers, labels = [], [], [], [], []
    rng = np.random.default_rng(seed)
    for image_id in range(first_image_id, first_image_id + num_images):
        example = generate_example(rng, image_size)
        file_name = f"{image_id:012d}.jpg"
        _write_jpeg(example["image"], os.path.join(paths["images_dir"], file_name))
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": image_size,
                "height": image_size,
            }
        )
        for index, caption in enumerate(example["captions"]):
            captions.append(
                {"id": image_id * 10 + index, "image_id": image_id, "caption": caption}
            )
        for index, question in enumerate(example["questions"]):
            # VQA v2 numbers questions image_id * 1000 + k, so do we.
            question_id = image_id * 1000 + index
            questions.append(
                {
                    "image_id": image_id,
                    "question": question["question"],
                    "question_id": question_id,
                }
            )
            answers.append(_vqa_annotation(question, question_id, image_id))
        labels.append({"image_id": image_id, "label": example["label"]})

    _write_json(
        paths["captions"],
        {"info": info, "images": images, "annotations": captions},
    )
    _write_json(
        paths["questions"],
        {
            "info": info,
            "task_type": "Open-Ended",
            "data_type": "shapes",
            "data_subtype": split,
            "questions": questions,
        },
    )
    _write_json(
        paths["annotations"],
        {"info": info, "data_subtype": split, "annotations": answers},
    )
    _write_json(paths["labels"], {"classes": list(CLASS_NAMES), "labels": labels})
    return {
        "images": num_images,
        "captions": len(captions),
        "questions": len(questions),
    }


def _vqa_annotation(question, question_id, image_id):
    """A VQA v2 annotation; the 10 annotators all agree on synthetic data."""
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": question["question_type"],
        "answer_type": question["answer_type"],
        "multiple_choice_answer": question["answer"],
        "answers": [
            {"answer": question["answer"], "answer_confidence": "yes", "answer_id": i}
            for i in range(1, 11)
        ],
    }


def _write_jpeg(image, path):
    # subsampling=0 keeps full-resolution colour: the default 4:2:0 chroma
    # subsampling visibly smears the colours of shapes only a few pixels wide.
    Image.fromarray(image).save(path, quality=_JPEG_QUALITY, subsampling=0)


def _write_json(path, data, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent)


def _all_paths(root, splits):
    return {"root": root, "splits": {s: shapes_paths(root, s) for s in splits}}


def _log(enabled, message):
    if enabled:
        print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Reading the dataset
# ---------------------------------------------------------------------------


def read_labels(labels_path):
    """Reads a labels file written by `write_shapes`.

    The format is `{"classes": [...], "labels": [{"image_id", "label"}]}`.

    Args:
        labels_path: path of the labels JSON file.

    Returns:
        A tuple `(class_names, labels)`: the list of class names, and a dict
        mapping image id -> integer label.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when the file does not exist.
        InputError: (a `ValueError`) when the file is malformed or a label is
            out of range.

    Example:

    >>> from vlpk.data.synthetic import read_labels
    >>> classes, labels = read_labels(  # doctest: +SKIP
    ...     "/tmp/shapes/annotations/labels_train.json"
    ... )
    >>> classes  # doctest: +SKIP
    ['circle', 'square', 'triangle', 'diamond']
    """
    path = os.fspath(labels_path)
    data = read_json(path, "labels")
    classes = get_field(data, "classes", path, "the top level", list)
    if not all(isinstance(name, str) for name in classes):
        raise InputError(f"{path}: 'classes' should be a list of strings.")
    labels = {}
    for index, record in enumerate(
        get_field(data, "labels", path, "the top level", list)
    ):
        where = f"labels[{index}]"
        image_id = get_field(record, "image_id", path, where, int)
        label = get_field(record, "label", path, where, int)
        if not 0 <= label < len(classes):
            raise InputError(
                f"{path}: {where} has label {label}, outside the "
                f"{len(classes)} classes."
            )
        labels[image_id] = label
    return classes, labels


def read_shapes(root, split):
    """Reads one split of a Shapes dataset as captioned, labelled examples.

    The captions go through `read_coco_captions` and the labels through
    `read_labels`, exactly as for real data.

    Args:
        root: the dataset's root folder, as passed to `write_shapes`.
        split: the split name, e.g. `"train"`.

    Returns:
        A list of `Example` records with `image_path`, `image_id`, `captions`
        and `label` set, ordered by image id.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `root` holds no Shapes
            dataset.
        InputError: (a `ValueError`) when the dataset has no such split, or a
            file is malformed.

    Example:

    >>> from vlpk.data.synthetic import read_shapes, write_shapes
    >>> write_shapes("/tmp/shapes", progress=False)  # doctest: +SKIP
    >>> examples = read_shapes("/tmp/shapes", "val")  # doctest: +SKIP
    >>> len(examples)  # doctest: +SKIP
    200
    """
    paths = _checked_paths(root, split)
    examples = read_coco_captions(paths["captions"], paths["images_dir"])
    _, labels = read_labels(paths["labels"])
    return [_with_label(e, labels, paths["labels"]) for e in examples]


def read_shapes_vqa(root, split):
    """Reads one split of a Shapes dataset as VQA examples (one per question).

    Args:
        root: the dataset's root folder, as passed to `write_shapes`.
        split: the split name, e.g. `"train"`.

    Returns:
        A list of `Example` records as returned by `vlpk.data.vqa.read_vqa`.

    Example:

    >>> from vlpk.data.synthetic import read_shapes_vqa
    >>> examples = read_shapes_vqa("/tmp/shapes", "val")  # doctest: +SKIP
    >>> examples[0].question, examples[0].answer  # doctest: +SKIP
    ('how many shapes are there?', '2')
    """
    paths = _checked_paths(root, split)
    return read_vqa(paths["questions"], paths["annotations"], paths["images_dir"])


def _checked_paths(root, split):
    """The split's paths, after checking that `root` holds a Shapes dataset."""
    marker = _read_marker(os.fspath(root))
    if marker is None:
        raise MissingFileError(
            f"No Shapes dataset in {root} (no readable {MARKER}). Create it with "
            "vlpk.data.synthetic.write_shapes(root)."
        )
    splits = marker.get("splits") or {}
    if split not in splits:
        raise InputError(
            f"The Shapes dataset in {root} has no split {split!r}; it has "
            f"{sorted(splits)}."
        )
    return shapes_paths(root, split)


def _with_label(example, labels, path):
    if example.image_id not in labels:
        raise InputError(f"{path}: no label for image_id {example.image_id}.")
    return dataclasses.replace(example, label=labels[example.image_id])
