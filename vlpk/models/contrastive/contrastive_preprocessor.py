"""Raw images and strings in, dual-encoder inputs and targets out."""

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.serialization import deserialize_nested
from vlpk.text.preprocessor import TextPreprocessor

# Fingerprints of the images stand in for image ids when none are given.
_ID_BUCKETS = 2**62


@keras.saving.register_keras_serializable(package="vlpk")
class ContrastivePreprocessor(keras_hub.models.Preprocessor):
    """Turns raw `(image, caption)` pairs into the inputs of a dual encoder.

    It works batched or unbatched, inside `tf.data` (`ds.map(preprocessor)`)
    and in the serving graph, so training and serving cannot disagree.

    Inputs `x` are a dict:

    - `images`: encoded image bytes (JPEG, PNG, GIF, BMP; a string tensor),
      decoded and resized by `image_converter` (a `vlpk.data.
      ImagePreprocessor`, which refuses decompression bombs), or pixels
      (uint8 or float in 0–255) `[H, W, 3]` / `[B, H, W, 3]`, resized to the
      same size with the same rounding;
    - `text`: strings, tokenized and packed by `tokenizer`;
    - optionally `image_id` (int): which image a caption belongs to.

    Images alone (a tensor, or a dict with only `images`) give
    `x = {"images"}` and pass `y` through, for an image classifier on the
    same backbone (`vlpk.models.ZeroShotImageClassifier`).

    The output is `(x, y)` with `x = {"images", "token_ids", "padding_mask"}`
    and `y = {"contrastive": image ids}`, the targets of
    `vlpk.losses.ContrastiveLoss`: captions of one image are each other's
    positives. A `y` passed in is used as the ids; else `image_id`; else a
    fingerprint of each image's bytes or pixels, so two captions of one
    image still share an id.

    Args:
        tokenizer: a KerasHub tokenizer with start, end and pad tokens (for
            example `keras_hub.models.BertTokenizer`).
        image_converter: a `vlpk.data.ImagePreprocessor`; None makes a
            64 x 64 one.
        sequence_length: the packed text length.

    Example:
    >>> import numpy as np
    >>> from vlpk.text import wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "circle"])
    >>> preprocessor = ContrastivePreprocessor(
    ...     tokenizer, ImagePreprocessor(8), sequence_length=4)
    >>> x, y = preprocessor({"images": np.zeros((2, 16, 16, 3), "uint8"),
    ...                      "text": ["red circle", "circle"]})
    >>> x["images"].shape, x["token_ids"].numpy().tolist()
    (TensorShape([2, 8, 8, 3]), [[2, 5, 6, 3], [2, 6, 3, 0]])
    >>> bool(y["contrastive"][0] == y["contrastive"][1])  # the same pixels
    True
    """

    backbone_cls = DualEncoderBackbone

    def __init__(self, tokenizer, image_converter=None, sequence_length=32, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.image_converter = image_converter or ImagePreprocessor(64)
        self.sequence_length = sequence_length
        self.text_packer = TextPreprocessor(tokenizer, sequence_length)

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if (images := image_only_inputs(self, x)) is not None:
            return keras.utils.pack_x_y_sample_weight(images, y, sample_weight)
        inputs = self.preprocess_pairs(x)
        y = contrastive_targets(x, y)
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def preprocess_pairs(self, x):
        """Raw `{"images", "text"}` to `{"images", "token_ids", "padding_mask"}`.

        Raises:
            ValueError: `x` is not a dict with `images` and `text`.
        """
        check_raw_inputs(x, type(self).__name__)
        return {
            "images": self.preprocess_images(x["images"]),
            **self.preprocess_text(x["text"]),
        }

    def preprocess_text(self, text):
        """Strings to `{"token_ids", "padding_mask"}` (int32)."""
        return self.text_packer(text)

    def preprocess_images(self, images):
        """Bytes are decoded; pixels are resized as decoded images are."""
        return self.image_converter.pixels(images)

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("tokenizer", "image_converter")))


def image_only_inputs(preprocessor, x):
    """`{"images"}` model inputs for images alone, else None.

    Images alone are a tensor of image bytes or pixels, or a dict with only
    `images`: what an image classifier on this preprocessor's backbone
    takes (its labels pass through as `y`).
    """
    if isinstance(x, dict):
        if set(x) != {"images"}:
            return None
        x = x["images"]
    return {"images": preprocessor.preprocess_images(x)}


def check_raw_inputs(x, name):
    """Raises a `ValueError` unless `x` is a dict with `images` and `text`."""
    if not isinstance(x, dict) or not {"images", "text"} <= set(x):
        raise ValueError(
            f"{name} takes a dict with `images` (image bytes or pixels) and "
            f"`text` (strings), and optionally `image_id`; got {_describe(x)}."
        )


def contrastive_targets(x, y=None):
    """`y = {"contrastive": image ids}` for the raw pairs `x`.

    A `y` passed in is used as the ids; else `x["image_id"]`; else a
    fingerprint of each image's bytes or pixels, so two captions of one
    image share an id.
    """
    if y is None:
        y = x["image_id"] if "image_id" in x else _fingerprint(x["images"])
    if not isinstance(y, dict):
        y = {"contrastive": tf.cast(y, "int64")}
    return y


def _fingerprint(images):
    """An int64 id per image from its bytes or pixels (equal images, equal id)."""
    if images.dtype != tf.string:
        rank = images.shape.rank

        def serialize(image):
            return tf.io.serialize_tensor(image)

        if rank == 3:
            images = serialize(images)
        else:
            images = tf.map_fn(
                serialize, images, fn_output_signature=tf.TensorSpec((), tf.string)
            )
    return tf.strings.to_hash_bucket_fast(images, _ID_BUCKETS)


def _describe(x):
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)}"
    return type(x).__name__
