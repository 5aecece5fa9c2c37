"""Shapes: a tiny synthetic vision-language dataset that runs anywhere.

This is the public path of the Shapes dataset; the code lives in
`vlpk.data.shapes`, one module per concern (scenes, captions, questions,
writing, reading). See that package for how the dataset is built.

Example:

>>> from vlpk.data import synthetic
>>> example = synthetic.generate_examples(1, seed=0)[0]
>>> example["image"].shape
(64, 64, 3)
>>> paths = synthetic.write_shapes("/tmp/shapes", progress=False)  # doctest: +SKIP
>>> train = synthetic.read_shapes("/tmp/shapes", "train")  # doctest: +SKIP
"""

from vlpk.data.shapes import (
    CLASS_NAMES,
    COLOR_RGB,
    COLORS,
    DEFAULT_SPLITS,
    FORMAT_VERSION,
    MARKER,
    SHAPES,
    SIZES,
    generate_example,
    generate_examples,
    holds,
    is_above,
    is_left_of,
    read_labels,
    read_shapes,
    read_shapes_vqa,
    shapes_paths,
    split_seed,
    write_shapes,
)

__all__ = [
    "CLASS_NAMES",
    "COLOR_RGB",
    "COLORS",
    "DEFAULT_SPLITS",
    "FORMAT_VERSION",
    "MARKER",
    "SHAPES",
    "SIZES",
    "generate_example",
    "generate_examples",
    "holds",
    "is_above",
    "is_left_of",
    "read_labels",
    "read_shapes",
    "read_shapes_vqa",
    "shapes_paths",
    "split_seed",
    "write_shapes",
]
