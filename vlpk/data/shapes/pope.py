"""POPE question files built from Shapes scenes: random, popular, adversarial.

POPE (Li et al., 2023, "Evaluating Object Hallucination in Large
Vision-Language Models") asks "Is there a <object> in the image?" about
objects that are in the image (label "yes") and, for each, about one that is
not (label "no"). Its three files differ in how the absent object is drawn:
at random, among the most frequent objects overall ("popular"), or among the
objects that co-occur most with the positive object ("adversarial").
`vlpk.metrics.pope` scores a model's answers to them.

The sampling follows `pope()`, `generate_ground_truth_objects()`,
`compute_co_occurrence()` and `create_question()` of `utils.py` in
github.com/AoiDragon/POPE (read at commit
08d957b917e5a378a2f99d35b6293c536a66298b; `utils.py` last changed in 7cf0a02,
"Fix pope random", 2023), MIT license, Copyright (c) 2024 Yifan Li. Its input
is one record per image, `{"image": file name, "objects": [name, ...]}` (its
README's format), and so is the input of `pope_questions` here:

- Positives are the image's first objects in order, not a sample:
  `for i in range(sample_num):` `pos_object = image["objects"][i]`. Each is
  followed at once by its negative, so the labels alternate yes, no, yes, no.
- A negative is never an object of the image nor one already asked about
  for it: `selected_object not in history_object_list and selected_object
  not in image["objects"]`.
- Random: `selected_object = random.choice(gt_objects_list)`, drawn again
  while it is excluded, over the objects of all the images, in first-seen
  order.
- Popular: the first allowed object of `sorted(ground_truth_objects.items(),
  key=lambda x: x[1], reverse=True)`, where an object's count is how many
  times the images list it; the sort is stable, so ties keep first-seen
  order.
- Adversarial: the first allowed object of `sorted_co_occur[pos_object]`,
  the objects listed with the positive in the same image, most often first
  (again stable); without one, a random draw as above ("In case no object
  is selected").
- Question ids run from 1 through the file; the text is the template with
  "an" before a lower-case vowel: `if Object[0] in ["a", "e", "i", "o",
  "u"]`.

Where vlpk departs from it, on purpose:

- POPE keeps only images with at least `sample_num` objects and samples
  `img_num` (500) of them (`random.sample`). Shapes images hold 1-3 objects,
  so every image is kept and asked about up to `sample_num` of its objects,
  each with one negative. Pass only the scenes with `sample_num` objects or
  more to reproduce POPE's selection.
- POPE draws from the global `random` state, shared by the three files
  built in turn; each file here draws from `random.Random(seed)`, so each is
  reproducible alone. With the same state the draws are the same.
- `create_question` writes the "an" variant as `template.replace("a",
  "an")`, which also turns "image" into "imange"; POPE's published files
  (`output/coco/coco_pope_random.json`) read "Is there an umbrella in the
  image?", and that is what is written here: only the article before `{}`
  changes.
- Where no allowed object is left, POPE's loop never ends; here
  `InputError` says which image.
- POPE names its files `<dataset>_pope_<strategy>.json` (JSON lines despite
  the extension); `write_pope_files` writes `pope_<strategy>.jsonl`.

The Shapes object is the colour and the shape, "red circle": it is the
unit the captions and questions bind attributes to, and a scene holds
distinct (colour, shape) pairs, so each object is listed once. The shape
alone would leave 4 objects, too few to find 3 absent ones for a 3-object
image, and it could not tell a model that binds colours from one that does
not ("Is there a red square?" next to a red circle and a blue square is the
adversarial question). The size is left out: it is relative ("small",
"large"), and "a small red circle" next to a large one is not clearly absent.
"""

import json
import os
import random

from vlpk.data.records.example import get_field, read_json
from vlpk.data.shapes.generator import generate_examples
from vlpk.data.shapes.layout import FORMAT_VERSION, shapes_paths
from vlpk.data.shapes.reader import checked_marker
from vlpk.data.shapes.writer import split_seed
from vlpk.errors import InputError

TEMPLATE = "Is there a {} in the image?"
STRATEGIES = ("random", "popular", "adversarial")


def shape_object(obj):
    """The POPE object of a Shapes object: its colour and shape.

    Example:
    >>> shape_object({"shape": "circle", "color": "red", "size": "small"})
    'red circle'
    """
    return f"{obj['color']} {obj['shape']}"


def shapes_scenes(examples, first_image_id=1):
    """POPE's per-image records from Shapes examples generated in memory.

    Args:
        examples: dicts with `objects`, as `generate_examples` returns them.
        first_image_id: the image id of the first example; images are named
            `<image_id:012d>.jpg`, as `write_shapes` names them.

    Returns:
        `[{"image": file name, "objects": ["red circle", ...]}]`, objects in
        scene order.

    Example:
    >>> from vlpk.data.synthetic import generate_examples
    >>> scenes = shapes_scenes(generate_examples(2, seed=0, image_size=32))
    >>> scenes[0]["image"]
    '000000000001.jpg'
    """
    return [
        {
            "image": f"{first_image_id + i:012d}.jpg",
            "objects": [shape_object(obj) for obj in example["objects"]],
        }
        for i, example in enumerate(examples)
    ]


def read_shapes_scenes(root, split):
    """POPE's per-image records of one split of a written Shapes dataset.

    The files on disk hold captions and questions, not the objects, so the
    split is generated again from its `shapes.json` parameters (as
    `split_seed` documents) and checked against the captions file.

    Args:
        root: the dataset's root folder, as passed to `write_shapes`.
        split: the split name, e.g. `"val"`.

    Returns:
        The records of `shapes_scenes`, named as the split's image files.

    Raises:
        MissingFileError: (an `InputError`) when `root` holds no Shapes
            dataset.
        InputError: (a `ValueError`) when it has no such split, or was written
            by another version of the generator.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data.synthetic import write_shapes
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"val": 2},
    ...                  progress=False)
    >>> scenes = read_shapes_scenes(root, "val")
    >>> len(scenes), sorted(scenes[0])
    (2, ['image', 'objects'])
    """
    root = os.fspath(root)
    marker = checked_marker(root, split)
    splits = marker["splits"]
    if marker.get("format_version") != FORMAT_VERSION:
        raise InputError(_stale_message(root, split))
    # write_shapes numbers the images from 1 across the splits, in order.
    names = list(splits)
    first_image_id = 1 + sum(splits[name] for name in names[: names.index(split)])
    seed = split_seed(marker["seed"], split)
    examples = generate_examples(splits[split], seed, marker["image_size"])
    _check_captions(examples, first_image_id, root, split)
    return shapes_scenes(examples, first_image_id)


def pope_questions(scenes, strategy, sample_num=3, seed=0, template=TEMPLATE):
    """One POPE question file's records, sampled as POPE's `pope()` samples.

    Args:
        scenes: `[{"image": str, "objects": [str, ...]}]`, one record per
            image (`shapes_scenes`, `read_shapes_scenes`, or POPE's own
            annotation records).
        strategy: how negatives are drawn: `"random"`, `"popular"` or
            `"adversarial"` (see the module doc).
        sample_num: the most positives asked per image (POPE's default, 3);
            each is followed by one negative.
        seed: seed of the random draws.
        template: the question, with `{}` for the object.

    Returns:
        `[{"question_id", "image", "text", "label"}]`, ids from 1.

    Raises:
        InputError: (a `ValueError`) for a malformed scene or argument, or an
            image for which too few absent objects are left.

    Example:
    >>> scenes = [{"image": "1.jpg", "objects": ["red circle", "blue square"]},
    ...           {"image": "2.jpg", "objects": ["red circle", "green diamond"]},
    ...           {"image": "3.jpg", "objects": ["orange square"]}]
    >>> for q in pope_questions(scenes, "popular")[:4]:
    ...     print(q["question_id"], q["label"], q["text"])
    1 yes Is there a red circle in the image?
    2 no Is there a green diamond in the image?
    3 yes Is there a blue square in the image?
    4 no Is there an orange square in the image?
    """
    _check_arguments(strategy, sample_num, template)
    _check_scenes(scenes, sample_num)
    stats = _statistics(scenes)
    rng = random.Random(seed)
    questions = []
    for scene in scenes:
        asked = []
        for positive in scene["objects"][:sample_num]:
            asked.append(positive)
            negative = _negative(
                strategy, positive, scene["objects"], asked, rng, stats
            )
            asked.append(negative)
            for name, label in ((positive, "yes"), (negative, "no")):
                questions.append(
                    {
                        "question_id": len(questions) + 1,
                        "image": scene["image"],
                        "text": _text(template, name),
                        "label": label,
                    }
                )
    return questions


def write_pope_files(
    scenes, out_dir, split=None, sample_num=3, seed=0, template=TEMPLATE
):
    """Writes `pope_random.jsonl`, `pope_popular.jsonl`, `pope_adversarial.jsonl`.

    Args:
        scenes: the per-image records of `pope_questions`; or the root of a
            written Shapes dataset, with `split`; or a split's image folder
            (`<root>/images/<split>`), whose name gives the split.
        out_dir: the folder to write to (created if needed).
        split: the split to read, when `scenes` is a dataset root.
        sample_num: the most positives asked per image.
        seed: seed of the random draws, the same for each file.
        template: the question, with `{}` for the object.

    Returns:
        `{strategy: path}` of the three files, one JSON object per line, as
        POPE writes them and `vlpk.metrics.pope.read_pope_questions` reads
        them.

    Raises:
        InputError: (a `ValueError`) for a malformed scene or argument, or a
            folder that holds no Shapes dataset or split.

    Example:
    >>> import tempfile
    >>> from vlpk.data.synthetic import generate_examples
    >>> scenes = shapes_scenes(generate_examples(20, seed=0, image_size=32))
    >>> paths = write_pope_files(scenes, tempfile.mkdtemp())
    >>> sorted(os.path.basename(path) for path in paths.values())
    ['pope_adversarial.jsonl', 'pope_popular.jsonl', 'pope_random.jsonl']
    """
    scenes = _resolve_scenes(scenes, split)
    # Every file is sampled before any is written: a bad scene writes nothing.
    files = {
        strategy: pope_questions(scenes, strategy, sample_num, seed, template)
        for strategy in STRATEGIES
    }
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for strategy, questions in files.items():
        paths[strategy] = os.path.join(out_dir, f"pope_{strategy}.jsonl")
        _write_lines(paths[strategy], questions)
    return paths


def _statistics(scenes):
    """POPE's object counts and co-occurrence lists, both in first-seen order."""
    counts, co_occur = {}, {}
    for scene in scenes:
        for name in scene["objects"]:
            counts[name] = counts.get(name, 0) + 1
            together = co_occur.setdefault(name, {})
            for other in scene["objects"]:
                if other != name:
                    together[other] = together.get(other, 0) + 1
    return {
        "objects": list(counts),
        # sorted(..., reverse=True) is stable: ties stay in first-seen order.
        "popular": [o for o, _ in sorted(counts.items(), key=_count, reverse=True)],
        "co_occur": {
            name: [o for o, _ in sorted(together.items(), key=_count, reverse=True)]
            for name, together in co_occur.items()
        },
    }


def _count(item):
    return item[1]


def _negative(strategy, positive, objects, asked, rng, stats):
    """The object POPE asks about after `positive`, absent from the image."""
    ranked = ()
    if strategy == "popular":
        ranked = stats["popular"]
    elif strategy == "adversarial":
        ranked = stats["co_occur"][positive]
    for name in ranked:
        if name not in asked and name not in objects:
            return name
    # POPE's random strategy and its fallback draw the same way: until allowed.
    name = rng.choice(stats["objects"])
    while name in asked or name in objects:
        name = rng.choice(stats["objects"])
    return name


def _text(template, name):
    if name[0] in ("a", "e", "i", "o", "u"):
        return template.replace("a {}", "an {}").format(name)
    return template.format(name)


def _check_arguments(strategy, sample_num, template):
    if strategy not in STRATEGIES:
        raise InputError(
            f"Unknown POPE strategy {strategy!r}; expected one of {STRATEGIES}."
        )
    if not isinstance(sample_num, int) or isinstance(sample_num, bool):
        raise InputError(f"sample_num must be an integer, got {sample_num!r}.")
    if sample_num < 1:
        raise InputError(f"sample_num must be at least 1, got {sample_num}.")
    if not isinstance(template, str) or template.count("{}") != 1:
        raise InputError(
            f"The template must hold one '{{}}' for the object, got {template!r}."
        )


def _check_scenes(scenes, sample_num):
    if not isinstance(scenes, list):
        raise InputError(
            "scenes should be a list of {'image': str, 'objects': [str, ...]}, "
            f"got {type(scenes).__name__}."
        )
    for i, scene in enumerate(scenes):
        where = f"scenes[{i}]"
        get_field(scene, "image", "scenes", where, str)
        objects = get_field(scene, "objects", "scenes", where, list)
        if not all(isinstance(name, str) and name for name in objects):
            raise InputError(f"scenes: {where}['objects'] should be non-empty strings.")
    pool = {name for scene in scenes for name in scene["objects"]}
    for scene in scenes:
        needed = min(sample_num, len(scene["objects"]))
        absent = len(pool - set(scene["objects"]))
        if absent < needed:
            raise InputError(
                f"scenes: image {scene['image']!r} needs {needed} absent objects "
                f"for its negatives, but only {absent} of the {len(pool)} objects "
                "of the scenes are absent from it. Use more scenes, or a smaller "
                "sample_num."
            )


def _resolve_scenes(scenes, split):
    if not isinstance(scenes, (str, os.PathLike)):
        return scenes
    path = os.path.abspath(os.fspath(scenes))
    if split is not None:
        return read_shapes_scenes(path, split)
    parent = os.path.dirname(path)
    if os.path.basename(parent) == "images" and os.path.isdir(path):
        return read_shapes_scenes(os.path.dirname(parent), os.path.basename(path))
    raise InputError(
        f"{path}: pass split= with a Shapes dataset root, or give a split's image "
        "folder (<root>/images/<split>)."
    )


def _check_captions(examples, first_image_id, root, split):
    """Raises unless the regenerated split has the captions written on disk."""
    path = shapes_paths(root, split)["captions"]
    data = read_json(path, "COCO captions")
    written = {}
    for i, record in enumerate(get_field(data, "annotations", path, "the top level")):
        image_id = get_field(record, "image_id", path, f"annotations[{i}]", int)
        caption = get_field(record, "caption", path, f"annotations[{i}]", str)
        written.setdefault(image_id, []).append(caption)
    expected = {
        first_image_id + i: list(example["captions"])
        for i, example in enumerate(examples)
    }
    if written != expected:
        raise InputError(_stale_message(root, split))


def _stale_message(root, split):
    return (
        f"{root}: the {split!r} split was not written by this version of the "
        "Shapes generator (its objects are not stored on disk, so they are "
        "generated again from shapes.json, and they no longer match). Rewrite "
        "the dataset with write_shapes(root, ..., overwrite=True)."
    )


def _write_lines(path, questions):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for question in questions:
            # json.dumps with its default separators, as POPE writes its files.
            f.write(json.dumps(question) + "\n")
    os.replace(tmp, path)  # never a half-written file
