"""The caption grammar: paraphrased captions that are true of a scene.

Captions bind attributes to objects and use spatial relations ("a red circle
left of a blue square" and "a blue circle left of a red square" describe
different images), so a model must look at the image to match them.
"""

from vlpk.data.shapes.phrases import article, phrase
from vlpk.data.shapes.scene import true_relations

_ROWS = ("top", "middle", "bottom")
_COLUMNS = ("left", "center", "right")
_NUMBER_WORDS = ("zero", "one", "two", "three")


def captions(objects, image_size, rng, count=5):
    """`count` distinct captions, in random order."""
    if len(objects) == 1:
        candidates = _single_object_captions(objects[0], image_size)
    else:
        candidates = _multi_object_captions(objects, rng)
    # dict.fromkeys drops duplicates but keeps the order.
    distinct = list(dict.fromkeys(candidates))[:count]
    return [distinct[i] for i in rng.permutation(len(distinct))]


def _single_object_captions(obj, image_size):
    size, color, shape = obj["size"], obj["color"], obj["shape"]
    return [
        f"{phrase(obj, True)} {_position(obj, image_size)}",
        phrase(obj, False),
        f"there is {phrase(obj, True)}",
        f"a single {color} {shape} {_position(obj, image_size)}",
        f"{article(size)} {size} {shape} colored {color}",
    ]


def _multi_object_captions(objects, rng):
    """Up to three relation captions, then captions that list every object."""

    def coin():
        # Whether to mention an object's size: captions vary in detail.
        return bool(rng.integers(2))

    statements = true_relations(objects)
    relation_captions = [
        f"{phrase(a, coin())} {relation} {phrase(b, coin())}"
        for a, relation, b in (statements[i] for i in rng.permutation(len(statements)))
    ]
    listed = [objects[i] for i in rng.permutation(len(objects))]
    phrases = [phrase(o, coin()) for o in listed]
    sized = [phrase(o, True) for o in listed]
    number = _NUMBER_WORDS[len(objects)]
    listings = [
        f"{number} shapes: {_join(phrases)}",
        f"there is {_join(sized)}",
        f"an image with {_join(phrases[::-1])}",
    ]
    return relation_captions[:3] + listings


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


def _join(phrases):
    """'A', 'A and B', 'A, B and C'."""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]
