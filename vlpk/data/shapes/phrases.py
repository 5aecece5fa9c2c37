"""Noun phrases shared by the caption and question grammars."""

from vlpk.data.shapes.scene import count_objects


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def phrase(obj, with_size):
    """'a red circle' or 'a small red circle'."""
    words = ([obj["size"]] if with_size else []) + [obj["color"], obj["shape"]]
    return f"{article(words[0])} {' '.join(words)}"


def reference(obj, objects):
    """The shortest definite description naming `obj` alone: 'the circle' or
    'the red circle' (unique because (colour, shape) pairs are distinct)."""
    if count_objects(objects, shape=obj["shape"]) == 1:
        return f"the {obj['shape']}"
    return f"the {obj['color']} {obj['shape']}"
