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

`write_shapes` writes the dataset in the real COCO captions and VQA v2 formats,
so the very readers that serve COCO and VQA also serve Shapes.

Modules:

- `scene`: the objects of an image, their drawing, label and relations;
- `phrases`, `captions`, `questions`: the language generated from a scene;
- `generator`: whole examples in memory (`generate_examples`);
- `layout`, `formats`, `staging`, `writer`: the dataset on disk;
- `reader`: reading it back through the COCO and VQA readers.

The public path is `vlpk.data.synthetic`, which re-exports this API.

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

from vlpk.data.shapes.generator import generate_example, generate_examples
from vlpk.data.shapes.layout import FORMAT_VERSION, MARKER, shapes_paths
from vlpk.data.shapes.reader import read_labels, read_shapes, read_shapes_vqa
from vlpk.data.shapes.scene import (
    CLASS_NAMES,
    COLOR_RGB,
    COLORS,
    SHAPES,
    SIZES,
    holds,
    is_above,
    is_left_of,
)
from vlpk.data.shapes.writer import DEFAULT_SPLITS, split_seed, write_shapes

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
