"""Raw images and captions in, captioner inputs and next-token targets out."""

import keras
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.layers.caption_decoder import next_token_targets
from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor


@keras.saving.register_keras_serializable(package="vlpk")
class ImageCaptionerPreprocessor(ContrastivePreprocessor):
    """Turns raw `(image, caption)` pairs into `ImageCaptioner` inputs.

    As `ContrastivePreprocessor` (its image converter and tokenizer, batched
    or not, in `tf.data` and the serving graph), but the target is the
    caption shifted left by one token, `{"captioning": [B, T]}`: teacher
    forcing, with 0 (`[PAD]`) after the end.

    Args:
        tokenizer: a KerasHub tokenizer with start, end and pad tokens.
        image_converter: a `vlpk.data.ImagePreprocessor`.
        sequence_length: the packed caption length.

    Example:
    >>> import numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.text import wordpiece_tokenizer
    >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "circle"]
    >>> preprocessor = ImageCaptionerPreprocessor(
    ...     wordpiece_tokenizer(words), ImagePreprocessor(8), sequence_length=5)
    >>> x, y = preprocessor({"images": np.zeros((1, 8, 8, 3), "uint8"),
    ...                      "text": ["red circle"]})
    >>> x["token_ids"].numpy().tolist(), y["captioning"].numpy().tolist()
    ([[2, 5, 6, 3, 0]], [[5, 6, 3, 0, 0]])
    """

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        inputs = self.preprocess_pairs(x)
        y = {"captioning": next_token_targets(inputs["token_ids"])}
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)
