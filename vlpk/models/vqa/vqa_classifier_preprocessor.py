"""Raw images and questions in, `VQAClassifier` inputs out; soft scores pass."""

import keras
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor


@keras.saving.register_keras_serializable(package="vlpk")
class VQAClassifierPreprocessor(ContrastivePreprocessor):
    """Turns raw `(image, question)` pairs into `VQAClassifier` inputs.

    As `ContrastivePreprocessor` (its image converter and tokenizer, batched
    or not, in `tf.data` and the serving graph), but `y` is the answers'
    soft scores `[B, num_answers]` (`vlpk.tasks.vqa.vqa_targets`) and passes
    through as `{"predictions": y}`, where a contrastive preprocessor would
    read it as image ids.

    Takes `ContrastivePreprocessor`'s arguments: `tokenizer`,
    `image_converter` (a `vlpk.data.ImagePreprocessor`) and
    `sequence_length` (the packed question length).

    Example:
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.text import wordpiece_tokenizer
    >>> words = "[PAD] [UNK] [CLS] [SEP] [MASK] red is".split()
    >>> preprocess = VQAClassifierPreprocessor(
    ...     wordpiece_tokenizer(words), ImagePreprocessor(8), 5)
    >>> import numpy as np
    >>> pixels = np.zeros((1, 8, 8, 3), "uint8")
    >>> x, y = preprocess({"images": pixels, "text": ["is red"]}, [[1.0, 0.3]])
    >>> x["token_ids"].numpy().tolist(), y["predictions"].numpy().tolist()
    ([[2, 6, 5, 3, 0]], [[1.0, 0.3]])
    """

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        inputs = self.preprocess_pairs(x)
        if y is not None and not isinstance(y, dict):
            y = {"predictions": y}
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)
