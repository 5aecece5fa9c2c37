"""Data: Shapes, dataset readers, the image preprocessor and `tf.data` pipelines."""

from vlpk.data.coco import read_coco_captions
from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.data.pipeline import (
    classification_dataset,
    contrastive_dataset,
    image_dataset,
    text_dataset,
)
from vlpk.data.pretraining import mask_rows, masked_lm_generator, pretraining_dataset
from vlpk.data.records import Example
from vlpk.data.synthetic import read_shapes, read_shapes_vqa, write_shapes
from vlpk.data.vqa import read_vqa

__all__ = [
    "Example",
    "ImagePreprocessor",
    "classification_dataset",
    "contrastive_dataset",
    "image_dataset",
    "mask_rows",
    "masked_lm_generator",
    "pretraining_dataset",
    "read_coco_captions",
    "read_shapes",
    "read_shapes_vqa",
    "read_vqa",
    "text_dataset",
    "write_shapes",
]
