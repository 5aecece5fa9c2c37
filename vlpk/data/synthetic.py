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

from vlpk.data import shapes
from vlpk.data.shapes import *  # noqa: F403  (this module is its public alias)

__all__ = list(shapes.__all__)
