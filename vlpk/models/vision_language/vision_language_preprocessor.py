"""Raw pairs in; the inputs and targets of every pretraining objective out."""

import keras
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.data.pipelines.pretraining import mask_rows, masked_lm_generator
from vlpk.layers.caption_decoder import next_token_targets
from vlpk.models.contrastive.contrastive_preprocessor import (
    ContrastivePreprocessor,
    check_raw_inputs,
)
from vlpk.models.vision_language.vision_language_backbone import (
    VisionLanguageBackbone,
)

OBJECTIVES = ("contrastive", "matching", "masked_lm", "captioning")


@keras.saving.register_keras_serializable(package="vlpk")
class VisionLanguagePreprocessor(ContrastivePreprocessor):
    """Turns raw `(image, caption)` pairs into pretraining inputs and targets.

    Images and text are prepared as `ContrastivePreprocessor` prepares them
    (bytes or pixels; strings), batched or unbatched, in `tf.data` and in
    the serving graph. The output is `(x, y)` with what each objective
    needs, as `vlpk.data.pretraining_dataset` makes it:

    - always: `x = {"images", "token_ids", "padding_mask"}` and
      `y["contrastive"]`, the image ids (`y`, `image_id`, or a fingerprint
      of the image);
    - `matching`: `x["image_id"]` (int32), so two captions of one image are
      never each other's hard negatives, and `y["matching"] = [1, 0, 0]`;
    - `masked_lm`: `x["masked_token_ids"]` and `x["mask_positions"]`, and
      `y["masked_lm"]`, the original ids at those positions (0 in unused
      slots), drawn by KerasHub's BERT masking (`masked_lm_generator`),
      one row at a time so that a seeded run is reproducible (`mask_rows`);
    - `captioning`: `y["captioning"]`, the token ids shifted left.

    Args:
        tokenizer: a KerasHub tokenizer with start, end, pad and `[MASK]`
            tokens (for example `keras_hub.models.BertTokenizer`).
        image_converter: a `vlpk.data.ImagePreprocessor`; None makes a
            64 x 64 one.
        sequence_length: the packed text length.
        objectives: the objectives to make targets for, from `OBJECTIVES`.
        mask_selection_rate: the share of real tokens the masked LM hides.

    Example:
    >>> import numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.text import wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "circle"])
    >>> preprocessor = VisionLanguagePreprocessor(
    ...     tokenizer, ImagePreprocessor(8), sequence_length=5,
    ...     objectives=("contrastive", "matching", "captioning"))
    >>> x, y = preprocessor({"images": np.zeros((2, 16, 16, 3), "uint8"),
    ...                      "text": ["red circle", "circle"]})
    >>> sorted(x)
    ['image_id', 'images', 'padding_mask', 'token_ids']
    >>> sorted(y)
    ['captioning', 'contrastive', 'matching']
    >>> y["captioning"].numpy().tolist()
    [[5, 6, 3, 0, 0], [6, 3, 0, 0, 0]]
    """

    backbone_cls = VisionLanguageBackbone

    def __init__(
        self,
        tokenizer,
        image_converter=None,
        sequence_length=32,
        objectives=("contrastive",),
        mask_selection_rate=0.15,
        **kwargs,
    ):
        super().__init__(tokenizer, image_converter, sequence_length, **kwargs)
        self.objectives = check_objectives(objectives)
        self.mask_selection_rate = mask_selection_rate
        self.mask_generator = None

    def build(self, input_shape):
        # Made here, not in `__init__`: a tokenizer loaded from a preset gets
        # its vocabulary (and so the `[MASK]` id) after the constructor runs.
        if "masked_lm" in self.objectives:
            self.mask_generator = masked_lm_generator(
                self.tokenizer, self.sequence_length, self.mask_selection_rate
            )
        self.built = True

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        check_raw_inputs(x, "VisionLanguagePreprocessor")
        inputs, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
            super().call(x, y, sample_weight)
        )
        inputs, y = objective_targets(inputs, y, self.objectives, self.mask_generator)
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "objectives": list(self.objectives),
                "mask_selection_rate": self.mask_selection_rate,
            }
        )
        return config


def check_objectives(objectives):
    """`objectives` as a tuple; a `ValueError` unless valid.

    They must include `contrastive` (the hard negatives of `matching` are
    drawn from its similarities) and come from `OBJECTIVES`.
    """
    objectives = tuple(objectives)
    if set(objectives) - set(OBJECTIVES) or "contrastive" not in objectives:
        raise ValueError(
            f"objectives must include 'contrastive' and come from {OBJECTIVES}; "
            f"got {objectives}."
        )
    return objectives


def objective_targets(x, y, objectives, mask_generator=None):
    """Adds the inputs and targets of `objectives` to a contrastive `(x, y)`.

    Batched (`token_ids` `[B, T]`) or not (`[T]`).

    Args:
        x: a dict with `token_ids`.
        y: a dict with `contrastive`, the image ids.
        objectives: the objectives being trained.
        mask_generator: a `MaskedLMMaskGenerator` (for `masked_lm`).

    Returns:
        New `(x, y)` dicts: see `VisionLanguagePreprocessor`.
    """
    x, y = dict(x), dict(y)
    token_ids = x["token_ids"]
    if "matching" in objectives:
        x["image_id"] = tf.cast(y["contrastive"], "int32")
        # Column 0 is the true pair, 1 and 2 the hard negatives.
        shape = tf.concat([tf.shape(token_ids)[:-1], [3]], axis=0)
        y["matching"] = tf.broadcast_to(tf.constant([1.0, 0.0, 0.0]), shape)
    if "captioning" in objectives:
        y["captioning"] = next_token_targets(token_ids)
    if "masked_lm" in objectives:
        unbatched = token_ids.shape.rank == 1
        rows = token_ids[None] if unbatched else token_ids
        masked = mask_rows(mask_generator, rows)
        if unbatched:
            masked = {key: value[0] for key, value in masked.items()}
        x["masked_token_ids"] = masked["token_ids"]
        x["mask_positions"] = masked["mask_positions"]
        y["masked_lm"] = masked["mask_ids"]
    return x, y
