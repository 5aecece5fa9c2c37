"""Image captioning as a KerasHub task: raw images in, captions out."""

import keras

from vlpk.losses import CaptioningLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models.captioning.generation import caption_signature, generate_text
from vlpk.models.captioning.image_captioner_preprocessor import (
    ImageCaptionerPreprocessor,
)
from vlpk.models.inputs import image_input, text_inputs
from vlpk.models.task import VisionLanguageTask
from vlpk.models.vision_language.vision_language_backbone import (
    VisionLanguageBackbone,
)


@keras.saving.register_keras_serializable(package="vlpk")
class ImageCaptioner(VisionLanguageTask):
    """Captions images with a caption decoder over a backbone's image tokens.

    The decoder is the backbone's own (a CoCa backbone, pretrained with the
    captioning objective) or, for a backbone without one (an ALBEF one), a
    new `CaptionDecoder` passed as `caption_decoder`: the task's head, as a
    KerasHub task owns its head. The backbone is shared, never copied.

    Inputs `images`, `token_ids`, `padding_mask`; the output is
    `{"captioning": [B, T, V]}` next-token logits (teacher forcing, float32
    under any policy). With a preprocessor (`ImageCaptionerPreprocessor`),
    `fit` takes `{"images": image bytes or pixels, "text": captions}`.
    `compile()` defaults to AdamW, `CaptioningLoss` and masked-token
    accuracy; `generate()` captions raw images with any KerasHub sampler,
    and the `caption` signature does it inside a SavedModel.

    Args:
        backbone: a `VisionLanguageBackbone` (its image encoder gives tokens).
        preprocessor: an `ImageCaptionerPreprocessor`, or None.
        caption_decoder: a `vlpk.layers.CaptionDecoder` owned by the task;
            None uses the backbone's.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.layers import CaptionDecoder
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> keras.utils.set_random_seed(0)
    >>> backbone = VisionLanguageBackbone(  # an ALBEF-style one: no decoder
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="tokens"),
    ...     bert_encoder(8, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=5))
    >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, "a", "red", "circle"])
    >>> task = ImageCaptioner(
    ...     backbone, ImageCaptionerPreprocessor(tokenizer, ImagePreprocessor(16), 5),
    ...     caption_decoder=CaptionDecoder(8, 5, num_layers=1, num_heads=2,
    ...                                    hidden_dim=8, intermediate_dim=16))
    >>> task.compile(keras.optimizers.Adam(0.05), run_eagerly=True)
    >>> pixels = np.zeros((4, 16, 16, 3), "uint8")  # four steps on one caption
    >>> pairs = tf.data.Dataset.from_tensor_slices(
    ...     {"images": pixels, "text": ["a red circle"] * 4})  # or arrays, or bytes
    >>> _ = task.fit(pairs.batch(1), verbose=0)
    >>> task.generate(pixels[0], sampler="beam", num_beams=2)
    'a red circle'
    """

    backbone_cls = VisionLanguageBackbone
    preprocessor_cls = ImageCaptionerPreprocessor

    def __init__(self, backbone, preprocessor=None, caption_decoder=None, **kwargs):
        decoder = _decoder(backbone, caption_decoder)

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.caption_decoder = decoder
        # The backbone's decoder travels with the backbone; only a head of
        # the task's own goes into the task's config.
        self.owns_decoder = decoder is not getattr(backbone, "caption_decoder", None)

        # === Functional model ===
        images = image_input(backbone.image_encoder)
        text = text_inputs(sequence_length=decoder.sequence_length)
        logits = decoder({**text, "image_tokens": backbone.get_image_tokens(images)})
        # Float32 whatever the policy: the loss's softmax stays stable.
        outputs = {
            "captioning": keras.layers.Identity(dtype="float32", name="captioning")(
                logits
            )
        }
        super().__init__(inputs={"images": images, **text}, outputs=outputs, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Configures the task: AdamW, `CaptioningLoss`, token accuracy.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-4, weight decay
                0.01), or any Keras optimizer.
            loss: `"auto"` (`{"captioning": CaptioningLoss()}`) or any loss.
            metrics: `"auto"` (`MaskedTokenAccuracy`) or any metrics.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-4, weight_decay=0.01)
        if loss == "auto":
            loss = {"captioning": CaptioningLoss()}
        if metrics == "auto":
            metrics = {"captioning": [MaskedTokenAccuracy()]}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def generate(self, inputs, max_length=None, sampler="greedy", **sampler_kwargs):
        """Captions raw images (see `ImageTextPretrainer.generate`)."""
        return generate_text(
            self,
            self.caption_decoder,
            inputs,
            max_length=max_length,
            sampler=sampler,
            **sampler_kwargs,
        )

    def serving_signatures(self):
        """`caption` (also `serving_default`): image bytes to captions."""
        caption = caption_signature(self, self.caption_decoder)
        return {"caption": caption, "serving_default": caption}

    def get_config(self):
        config = super().get_config()
        decoder = self.caption_decoder if self.owns_decoder else None
        config["caption_decoder"] = keras.layers.serialize(decoder) if decoder else None
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("caption_decoder"), dict):
            config["caption_decoder"] = keras.layers.deserialize(
                config["caption_decoder"]
            )
        return super().from_config(config)


def _decoder(backbone, caption_decoder):
    """The task's decoder, checked against its backbone."""
    encoder = backbone.image_encoder
    if getattr(encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "ImageCaptioner attends to image tokens, and this backbone's image "
            "encoder is pooled: build it with ImageEncoder(..., output='tokens')."
        )
    decoder = caption_decoder
    if decoder is None:
        decoder = getattr(backbone, "caption_decoder", None)
    if decoder is None:
        raise ValueError(
            "The backbone has no caption decoder: pass caption_decoder="
            "CaptionDecoder(...) as the task's head."
        )
    return decoder
