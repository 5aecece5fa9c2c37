"""VQA-style questions about a scene, each with an unambiguous answer.

Questions cover colour, shape, counting, existence and relations, with balanced
yes/no answers.
"""

from vlpk.data.shapes.phrases import article, reference
from vlpk.data.shapes.scene import (
    COLORS,
    OPPOSITE,
    SHAPES,
    count_objects,
    holds,
    true_relations,
)


def questions(objects, rng):
    """One question of each kind that has an unambiguous answer.

    Each builder returns a list of questions, empty when no question of its
    kind has an unambiguous answer for this scene.

    Returns:
        A list of dicts `question`, `answer`, `answer_type` (`"yes/no"`,
        `"number"` or `"other"`) and `question_type` (`"color"`, `"shape"`,
        `"count"`, `"existence"` or `"relation"`).
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
        n = count_objects(objects, color=color)
        question = f"how many {color} shapes are there?"
    else:
        shape = source["shape"] if source else _pick(rng, SHAPES)
        n = count_objects(objects, shape=shape)
        question = f"how many {shape}s are there?"
    return [total, _question(question, str(n), "number", "count")]


def _color_questions(objects, rng):
    """'what color is the circle?', asked about an object its shape names alone
    (or its size and shape)."""
    candidates = []
    for obj in objects:
        if count_objects(objects, shape=obj["shape"]) == 1:
            candidates.append((f"the {obj['shape']}", obj))
        elif count_objects(objects, shape=obj["shape"], size=obj["size"]) == 1:
            candidates.append((f"the {obj['size']} {obj['shape']}", obj))
    picked = _pick(rng, candidates)
    if picked is None:
        return []
    name, obj = picked
    return [_question(f"what color is {name}?", obj["color"], "other", "color")]


def _shape_questions(objects, rng):
    """'what shape is the red object?', asked when one object has that colour."""
    unique = [o for o in objects if count_objects(objects, color=o["color"]) == 1]
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
    question = f"is there {article(color)} {color} {shape}?"
    return [_question(question, answer, "yes/no", "existence")]


def _relation_questions(objects, rng):
    """'what is left of the blue square?', asked when exactly one object is."""
    candidates = []
    for anchor in objects:
        for relation in OPPOSITE:
            matches = [
                o for o in objects if o is not anchor and holds(relation, o, anchor)
            ]
            if len(matches) == 1:
                candidates.append((relation, anchor, matches[0]))
    picked = _pick(rng, candidates)
    if picked is None:
        return []
    relation, anchor, target = picked
    name = reference(anchor, objects)
    if rng.integers(2):
        question = f"what is {relation} {name}?"
        return [_question(question, target["shape"], "other", "relation")]
    question = f"what color is the shape {relation} {name}?"
    return [_question(question, target["color"], "other", "relation")]


def _relation_check_questions(objects, rng):
    """'is the red circle left of the blue square?', yes or no equally often.

    Only pairs separated along the asked axis are used: the "no" question is the
    opposite relation, which is then clearly false.
    """
    statements = true_relations(objects)
    picked = _pick(rng, statements)
    if picked is None:
        return []
    a, relation, b = picked
    answer = "yes"
    if rng.integers(2):
        relation, answer = OPPOSITE[relation], "no"
    question = f"is {reference(a, objects)} {relation} {reference(b, objects)}?"
    return [_question(question, answer, "yes/no", "relation")]
