"""Generating Shapes examples in memory: image, captions, questions, label."""

import numpy as np

from vlpk.data.shapes.captions import captions
from vlpk.data.shapes.questions import questions
from vlpk.data.shapes.scene import (
    check_image_size,
    draw,
    sample_objects,
    scene_label,
)


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
    check_image_size(image_size)
    objects = sample_objects(rng, image_size)
    # The order of these calls fixes how `rng` is consumed: keep it.
    return {
        "image": draw(objects, image_size, rng),
        "objects": objects,
        "captions": captions(objects, image_size, rng),
        "questions": questions(objects, rng),
        "label": scene_label(objects),
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
    >>> [len(e["objects"]) for e in examples]
    [2, 2, 1]
    """
    rng = np.random.default_rng(seed)
    return [generate_example(rng, image_size) for _ in range(num_examples)]
