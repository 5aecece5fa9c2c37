"""Raw pairs into a KerasHub CLIP or SigLIP model, with its own preprocessing."""

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS, decode_full_size
from vlpk.encoders.weights import load_keras_hub_preset
from vlpk.models.contrastive.contrastive_preprocessor import (
    check_raw_inputs,
    contrastive_targets,
    image_only_inputs,
)
from vlpk.models.contrastive.keras_hub_dual_encoder import KerasHubDualEncoderBackbone
from vlpk.serialization import deserialize_nested

# Where the KerasHub preprocessor inside is saved in a preset: KerasHub saves
# every nested preprocessor, and under its default name it would overwrite
# this one's `preprocessor.json`.
KERAS_HUB_PREPROCESSOR_FILE = "keras_hub_preprocessor.json"


@keras.saving.register_keras_serializable(package="vlpk")
class KerasHubContrastivePreprocessor(keras_hub.models.Preprocessor):
    """`ContrastivePreprocessor`'s raw pairs, prepared as a KerasHub preset does.

    It takes the dict `vlpk.models.ContrastivePreprocessor` takes and gives
    the same `(x, y)`, for a `KerasHubDualEncoderBackbone`:

    - `images`: encoded bytes (decoded under vlpk's pixel guard, see
      `vlpk.data.pipelines.image_preprocessor.decode_full_size`) or pixels, then
      cropped and resized by the preset's image converter (CLIP and SigLIP
      crop to the aspect ratio and resize bicubically), as float32 in 0–255.
      The converter's `scale` and `offset` are applied by the backbone (see
      `KerasHubDualEncoderBackbone`), so the images stay in vlpk's 0–255
      convention; bicubic resizing can overshoot it slightly, as in KerasHub;
    - `text`: lower-cased (CLIP) or canonicalized (SigLIP), tokenized and
      packed by the KerasHub preprocessor, so the token ids are KerasHub's;
      `padding_mask` is cast to int32 (a bool mask breaks `fit` under
      `MirroredStrategy`);
    - `y = {"contrastive": image ids}`: `y`, `image_id`, or a fingerprint of
      the image, as in `ContrastivePreprocessor`.

    It works batched and unbatched, eagerly and in `tf.data`.

    Args:
        preprocessor: a KerasHub `CLIPPreprocessor` or `SigLIPPreprocessor`.
            Its tokenizer and packing are used; its image converter too,
            unless `image_converter` is given. It is kept as a text-only copy
            that shares the tokenizer (its config says so).
        image_converter: a KerasHub image converter with an `image_size`;
            None takes the preprocessor's.
        max_pixels: the largest `height * width` an encoded image may declare.

    Example:
    >>> import tempfile, numpy as np
    >>> from vlpk.text.sentencepiece import learn_sentencepiece
    >>> tokenizer = keras_hub.models.SigLIPTokenizer(  # SentencePiece, as SigLIP's
    ...     proto=learn_sentencepiece(["a red circle", "a blue square"] * 5).proto)
    >>> from keras_hub.models import SigLIPTextEncoder, SigLIPVisionEncoder
    >>> siglip = keras_hub.models.SigLIPBackbone(
    ...     SigLIPVisionEncoder(4, 8, 1, 2, 16, image_shape=(16, 16, 3)),
    ...     SigLIPTextEncoder(tokenizer.vocabulary_size(), 8, 8, 1, 2, 16,
    ...                       max_sequence_length=8))
    >>> preset = tempfile.mkdtemp()  # as a KerasHub user saves a SigLIP preset
    >>> siglip.save_to_preset(preset)
    >>> keras_hub.models.SigLIPPreprocessor(tokenizer, sequence_length=8,
    ...     image_converter=keras_hub.layers.SigLIPImageConverter((16, 16)),
    ... ).save_to_preset(preset)
    >>> preprocessor = KerasHubContrastivePreprocessor.from_keras_hub_preset(preset)
    >>> x, y = preprocessor({"images": np.zeros((2, 30, 20, 3), "uint8"),
    ...                      "text": ["A red circle.", "a red circle"]})
    >>> x["images"].shape, sorted(y)  # cropped and resized; image ids
    (TensorShape([2, 16, 16, 3]), ['contrastive'])
    >>> ids = x["token_ids"].numpy()  # SigLIP canonicalizes: case, punctuation
    >>> ids.shape, ids[0].tolist() == ids[1].tolist()
    ((2, 8), True)
    """

    backbone_cls = KerasHubDualEncoderBackbone

    def __init__(
        self,
        preprocessor,
        image_converter=None,
        max_pixels=DEFAULT_MAX_PIXELS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        image_converter = image_converter or preprocessor.image_converter
        if image_converter is None or image_converter.image_size is None:
            raise ValueError(
                "KerasHubContrastivePreprocessor needs an image converter with "
                "an `image_size`: pass `image_converter=`, or a preprocessor "
                "loaded from a CLIP or SigLIP preset."
            )
        self.preprocessor = _text_only(preprocessor)
        self.image_converter = image_converter
        self.max_pixels = int(max_pixels)

    def build(self, input_shape):
        # The KerasHub preprocessor makes its packer in `build` (once: it may
        # be shared with another of these layers).
        if not self.preprocessor.built:
            self.preprocessor.build(None)
        self.built = True

    @property
    def tokenizer(self):
        """The KerasHub preprocessor's tokenizer."""
        return self.preprocessor.tokenizer

    @classmethod
    def from_keras_hub_preset(cls, preset, max_pixels=DEFAULT_MAX_PIXELS, **kwargs):
        """The preprocessor of a KerasHub CLIP or SigLIP preset, wrapped.

        Args:
            preset: a preset name, a `kaggle://` or `hf://` handle, or a
                preset folder (vlpk's offline policy applies, see
                `vlpk.encoders.load_keras_hub_preset`).
            max_pixels: the largest image, in pixels, accepted as bytes.
            **kwargs: passed to the KerasHub preprocessor's `from_preset`
                (e.g. `sequence_length`).
        """
        # `CLIPPreprocessor` and `SigLIPPreprocessor` both derive from
        # `CausalLMPreprocessor`, whose `from_preset` picks the subclass made
        # for the preset's backbone.
        preprocessor = load_keras_hub_preset(
            keras_hub.models.CausalLMPreprocessor, preset, **kwargs
        )
        return cls(preprocessor, max_pixels=max_pixels)

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if (images := image_only_inputs(self, x)) is not None:
            return keras.utils.pack_x_y_sample_weight(images, y, sample_weight)
        check_raw_inputs(x, "KerasHubContrastivePreprocessor")
        inputs = {
            "images": self.preprocess_images(x["images"]),
            **self.preprocess_text(x["text"]),
        }
        y = contrastive_targets(x, y)
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def preprocess_text(self, text):
        """Strings to `{"token_ids", "padding_mask"}` (int32), KerasHub's way."""
        # Eagerly, KerasHub leaves numpy string arrays as they are.
        text = tf.convert_to_tensor(text, tf.string)
        packed = self.preprocessor({"images": None, "prompts": text})
        return {
            "token_ids": packed["token_ids"],
            "padding_mask": tf.cast(packed["padding_mask"], "int32"),
        }

    def preprocess_images(self, images):
        """Bytes are decoded one by one; then the converter's crop and resize."""
        # Only the converter's resizing: its scale and offset are in the
        # backbone. Float32 in: Keras's `Resizing` rounds uint8 back to uint8.
        resize = self.image_converter.resizing
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.string:
            return resize(tf.cast(images, "float32"))

        def decode(image_bytes):
            image = decode_full_size(image_bytes, self.max_pixels)
            return resize(tf.cast(image, "float32"))

        if images.shape.rank == 0:
            return decode(images)
        size = tuple(self.image_converter.image_size)
        return tf.map_fn(
            decode, images, fn_output_signature=tf.TensorSpec(size + (3,), tf.float32)
        )

    def get_config(self):
        config = super().get_config()
        config.pop("tokenizer", None)  # saved inside `preprocessor`
        config.update(
            {
                "preprocessor": keras.layers.serialize(self.preprocessor),
                "max_pixels": self.max_pixels,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(deserialize_nested(config, ("preprocessor",)))


def _text_only(preprocessor):
    """A copy of a KerasHub preprocessor without its image converter.

    It shares the tokenizer (whose vocabulary is an asset, not config). Its
    `call` then leaves `images` alone: this preprocessor resizes them itself.
    """
    if (
        preprocessor.image_converter is None
        and preprocessor.config_file == KERAS_HUB_PREPROCESSOR_FILE
    ):
        return preprocessor
    config = preprocessor.get_config()
    config.update(
        tokenizer=preprocessor.tokenizer,
        image_converter=None,
        config_file=KERAS_HUB_PREPROCESSOR_FILE,
    )
    return type(preprocessor)(**config)
