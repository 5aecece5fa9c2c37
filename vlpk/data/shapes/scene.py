"""Shapes scenes: the objects in an image, how they are drawn, and their label.

Objects sit in distinct cells of a 3x3 grid, a little jittered. Two objects in
different columns are separated by a visible gap, two in the same column always
overlap horizontally (likewise for rows), so "A is left of B" (A's box ends
before B's begins) is never a borderline call. The relation predicates here are
the single source of truth for captions and questions alike.
"""

import numpy as np
from PIL import Image, ImageDraw

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

# The relations of the caption grammar, each mapped to its opposite.
OPPOSITE = {
    "left of": "to the right of",
    "to the right of": "left of",
    "above": "below",
    "below": "above",
}

_BACKGROUND = (40, 40, 40)
_NOISE = 6  # +- noise on every channel, so images are not perfectly flat
_SIDE = {"small": 0.4, "large": 0.7}  # object side, as a fraction of a cell


def check_image_size(image_size):
    if not isinstance(image_size, int) or image_size < 24:
        raise InputError(
            f"image_size must be an integer of at least 24, got {image_size!r}."
        )


# ---------------------------------------------------------------------------
# Sampling and drawing
# ---------------------------------------------------------------------------


def sample_objects(rng, image_size):
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


def draw(objects, image_size, rng):
    """Draws the objects on a plain background with slight noise."""
    image = Image.new("RGB", (image_size, image_size), _BACKGROUND)
    canvas = ImageDraw.Draw(image)
    for obj in objects:
        x0, y0, x1, y1 = obj["bbox"]
        # PIL boxes include their last pixel; our bboxes exclude it.
        right, bottom = x1 - 1, y1 - 1
        cx, cy = (x0 + right) / 2, (y0 + bottom) / 2
        fill = COLOR_RGB[obj["color"]]
        if obj["shape"] == "circle":
            canvas.ellipse((x0, y0, right, bottom), fill=fill)
        elif obj["shape"] == "square":
            canvas.rectangle((x0, y0, right, bottom), fill=fill)
        elif obj["shape"] == "triangle":
            canvas.polygon([(cx, y0), (right, bottom), (x0, bottom)], fill=fill)
        else:  # diamond
            canvas.polygon([(cx, y0), (right, cy), (cx, bottom), (x0, cy)], fill=fill)
    pixels = np.asarray(image, dtype=np.int16)
    noise = rng.integers(-_NOISE, _NOISE + 1, size=pixels.shape, dtype=np.int16)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)


def scene_label(objects):
    """Class of the largest object; ties go to the leftmost, then topmost."""
    largest = min(
        objects,
        key=lambda o: (-SIZES.index(o["size"]), o["bbox"][0], o["bbox"][1]),
    )
    return SHAPES.index(largest["shape"])


# ---------------------------------------------------------------------------
# Relations and counts
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
    raise ValueError(f"Unknown relation {relation!r}; expected one of {OPPOSITE}.")


def true_relations(objects):
    """All (a, relation, b) statements that hold between distinct objects."""
    return [
        (a, relation, b)
        for a in objects
        for b in objects
        if a is not b
        for relation in OPPOSITE
        if holds(relation, a, b)
    ]


def count_objects(objects, **attributes):
    """How many objects have all the given attributes, e.g. `color="red"`."""
    return sum(all(o[k] == v for k, v in attributes.items()) for o in objects)
