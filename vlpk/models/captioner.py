"""An image captioner: an image encoder and a caption decoder, nothing else."""

import keras

from vlpk.models.inputs import image_input, image_tokens_model, text_inputs
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class Captioner(keras.Model):
    """Image tokens feed a `CaptionDecoder` that predicts each next token.

    This is the captioning task model: fine-tune it from a pretrained image
    encoder (and, for a CoCa run, its pretrained decoder) with teacher forcing,
    then generate with `vlpk.evaluation.generate_split_captions`, which uses
    `image_tokenizer()` and `caption_decoder` like the pretrainer's.

    Inputs: `images`, `token_ids`, `padding_mask`. Output: a dict with
    `captioning` `[B, T, V]` next-token logits; the targets are
    `vlpk.data.pretraining.next_token_targets(token_ids)` and the loss is
    `vlpk.losses.CaptioningLoss`.

    Args:
        image_encoder: an `ImageEncoder(..., output="tokens")`.
        caption_decoder: a `vlpk.layers.CaptionDecoder`.

    Example:
    >>> model = Captioner(image_encoder, CaptionDecoder(vocabulary_size=120,
    ...     sequence_length=20, num_layers=1, num_heads=2, hidden_dim=16,
    ...     intermediate_dim=32))
    >>> model.compile("adamw", loss={"captioning": CaptioningLoss()})
    """

    def __init__(self, image_encoder, caption_decoder, **kwargs):
        if getattr(image_encoder, "output_mode", "tokens") != "tokens":
            raise ValueError(
                "Captioner needs image tokens: build the image encoder with "
                "ImageEncoder(..., output='tokens')."
            )
        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(sequence_length=caption_decoder.sequence_length)
        logits = caption_decoder({**text, "image_tokens": image_encoder(images)})
        outputs = {"captioning": keras.layers.Identity(name="captioning")(logits)}
        super().__init__(inputs={"images": images, **text}, outputs=outputs, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.caption_decoder = caption_decoder

    def image_tokenizer(self):
        """A model from `images` to the image tokens the decoder attends to."""
        return image_tokens_model(self.image_encoder)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.layers.serialize(self.image_encoder),
                "caption_decoder": keras.layers.serialize(self.caption_decoder),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        keys = ("image_encoder", "caption_decoder")
        return cls(**deserialize_nested(config, keys))
