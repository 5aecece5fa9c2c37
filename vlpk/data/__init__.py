"""Data: Shapes, dataset readers, the image preprocessor and `tf.data` pipelines."""

from vlpk.data.captions import clean_caption
from vlpk.data.coco import read_coco_captions
from vlpk.data.conversations import conversation_dataset, conversation_turn_pairs
from vlpk.data.convert import SkipLog, convert_examples
from vlpk.data.flickr import read_flickr8k, read_flickr30k
from vlpk.data.formats import convert_dataset, read_source
from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.data.karpathy import read_karpathy, read_karpathy_splits
from vlpk.data.llava import read_llava
from vlpk.data.pipeline import (
    classification_dataset,
    contrastive_dataset,
    image_dataset,
    text_dataset,
)
from vlpk.data.pretraining import mask_rows, masked_lm_generator, pretraining_dataset
from vlpk.data.raw import labelled_image_dataset, raw_pair_dataset
from vlpk.data.records import Example
from vlpk.data.shards import (
    caption_pair_dataset,
    decode_guarded,
    read_records,
    shard_files,
)
from vlpk.data.synthetic import read_shapes, read_shapes_vqa, write_shapes
from vlpk.data.vqa import read_vqa
from vlpk.data.vqa_answers import answer_vocabulary, soft_score_vector, soft_scores
from vlpk.data.web_pairs import iter_caption_pairs

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
]
