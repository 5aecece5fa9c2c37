"""Data: Shapes, dataset readers, the image preprocessor and `tf.data` pipelines."""

from vlpk.data.formats.captions import clean_caption
from vlpk.data.formats.coco import read_coco_captions
from vlpk.data.formats.flickr import read_flickr8k, read_flickr30k
from vlpk.data.formats.karpathy import read_karpathy, read_karpathy_splits
from vlpk.data.formats.llava import read_llava
from vlpk.data.formats.registry import convert_dataset, read_source
from vlpk.data.formats.vqa import read_vqa
from vlpk.data.formats.vqa_answers import (
    answer_vocabulary,
    soft_score_vector,
    soft_scores,
)
from vlpk.data.formats.web_pairs import iter_caption_pairs
from vlpk.data.pipelines.conversations import (
    conversation_dataset,
    conversation_turn_pairs,
)
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.pipelines.pipeline import (
    classification_dataset,
    contrastive_dataset,
    image_dataset,
    text_dataset,
)
from vlpk.data.pipelines.pretraining import (
    mask_rows,
    masked_lm_generator,
    pretraining_dataset,
)
from vlpk.data.pipelines.raw import labelled_image_dataset, raw_pair_dataset
from vlpk.data.records.example import Example
from vlpk.data.shapes.shards import write_shapes_shards
from vlpk.data.shards.convert import SkipLog, convert_examples
from vlpk.data.shards.reading import (
    caption_pair_dataset,
    decode_guarded,
    read_records,
    shard_files,
)
from vlpk.data.synthetic import read_shapes, read_shapes_vqa, write_shapes

__all__ = [
    "conversation_dataset",
    "conversation_turn_pairs",
    "read_llava",
    "Example",
    "ImagePreprocessor",
    "SkipLog",
    "answer_vocabulary",
    "caption_pair_dataset",
    "decode_guarded",
    "read_records",
    "shard_files",
    "clean_caption",
    "convert_dataset",
    "convert_examples",
    "iter_caption_pairs",
    "read_flickr8k",
    "read_flickr30k",
    "read_karpathy",
    "read_karpathy_splits",
    "read_source",
    "soft_score_vector",
    "soft_scores",
    "classification_dataset",
    "contrastive_dataset",
    "image_dataset",
    "mask_rows",
    "masked_lm_generator",
    "pretraining_dataset",
    "labelled_image_dataset",
    "raw_pair_dataset",
    "read_coco_captions",
    "read_shapes",
    "read_shapes_vqa",
    "read_vqa",
    "text_dataset",
    "write_shapes",
    "write_shapes_shards",
]
