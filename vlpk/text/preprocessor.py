"""The text preprocessor: raw strings in, packed token ids out.

It is a Keras layer that holds its tokenizer, so the same object tokenizes
inside the `tf.data` pipeline during training and inside the exported serving
graph: training and serving cannot disagree.
"""

import keras
import keras_hub
import tensorflow as tf

from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class TextPreprocessor(keras.layers.Layer):
    """Tokenizes strings and packs them as `[CLS] tokens [SEP] [PAD]...`.

    The padding mask is returned as int32, not bool: a bool `padding_mask`
    makes `fit` fail under `MirroredStrategy` (AddN has no bool kernel).

    Args:
        tokenizer: a KerasHub tokenizer with start, end and pad token ids (for
            example `keras_hub.models.BertTokenizer`).
        sequence_length: the packed length; longer text is truncated.

    Call arguments:
        x: a string tensor, scalar or `[batch]`.

    Returns:
        A dict with `token_ids` and `padding_mask`, both int32, shaped
        `[sequence_length]` or `[batch, sequence_length]`.

    Example:
    >>> from vlpk.text import wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
    ...                                  "[MASK]", "red", "circle"])
    >>> preprocessor = TextPreprocessor(tokenizer, sequence_length=6)
    >>> preprocessor(["red circle"])["token_ids"].numpy().tolist()
    [[2, 5, 6, 3, 0, 0]]
    """

    def __init__(self, tokenizer, sequence_length=32, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=sequence_length,
            return_padding_mask=True,
            name="packer",
        )
        # No weights: built from the start, so it can be tracked for export.
        self.built = True

    def _sync_special_tokens(self):
        # A tokenizer revived from a `.keras` file gets its vocabulary (and so
        # its special token ids) only when its assets load, after __init__:
        # read the ids at call time.
        start = _first_attr(self.tokenizer, ("start_token_id", "cls_token_id"))
        end = _first_attr(self.tokenizer, ("end_token_id", "sep_token_id"))
        pad = _first_attr(self.tokenizer, ("pad_token_id",))
        self.packer.start_value = None if start is None else [start]
        self.packer.end_value = None if end is None else [end]
        self.packer.pad_value = 0 if pad is None else pad

    def call(self, x):
        self._sync_special_tokens()
        x = tf.convert_to_tensor(x)
        token_ids, padding_mask = self.packer(self.tokenizer(x))
        return {
            "token_ids": tf.cast(token_ids, "int32"),
            "padding_mask": tf.cast(padding_mask, "int32"),
        }

    def compute_output_spec(self, x):
        # Declared rather than traced: a tokenizer revived from a `.keras` file
        # has no vocabulary until its assets load, after the graph is rebuilt.
        shape = tuple(x.shape) + (self.sequence_length,)
        return {
            "token_ids": keras.KerasTensor(shape, dtype="int32"),
            "padding_mask": keras.KerasTensor(shape, dtype="int32"),
        }

    @property
    def vocabulary_size(self):
        return self.tokenizer.vocabulary_size()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.layers.serialize(self.tokenizer),
                "sequence_length": self.sequence_length,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("tokenizer",)))


def _first_attr(obj, names):
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None
