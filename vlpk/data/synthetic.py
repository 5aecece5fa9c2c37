"""Shapes: a tiny synthetic vision-language dataset that runs anywhere.

This is the public path of the Shapes dataset; the code lives in
`vlpk.data.shapes`, one module per concern (scenes, captions, questions,
writing, reading). See that package for how the dataset is built.

Example:

>>> from vlpk.data import synthetic
>>> example = synthetic.generate_examples(1, seed=0)[0]
>>> example["image"].shape
(64, 64, 3)
>>> import os, tempfile
>>> root = os.path.join(tempfile.mkdtemp(), "shapes")
>>> paths = synthetic.write_shapes(root, image_size=32,
...                                splits={"train": 4}, progress=False)
>>> train = synthetic.read_shapes(root, "train")
>>> len(train), train[0].captions[0]
(4, 'a single orange diamond in the bottom right')
"""

from vlpk.data import shapes
from vlpk.data.shapes import *  # noqa: F403  (this module is its public alias)

__all__ = list(shapes.__all__)
