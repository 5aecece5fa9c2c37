"""The LLaVA / PaliGemma backbone: image tokens as a prefix to a KerasHub LM."""

import keras
import keras_hub

from vlpk.layers.mlp_connector import MLPConnector
from vlpk.models.inputs import image_input
from vlpk.models.vision_lm.prefix_decoder import ImagePrefixDecoder
from vlpk.serialization import deserialize_backbone_config

_SUBLAYERS = ("image_encoder", "language_model", "connector")


@keras.saving.register_keras_serializable(package="vlpk")
class VisionLMBackbone(keras_hub.models.Backbone):
    """Any vlpk image encoder joined to any KerasHub causal LM by a connector.

    The image encoder's tokens go through the `connector` into the LM's
    width and are put before the text, as LLaVA and PaliGemma do. The LM is
    a KerasHub causal-LM backbone, loaded from a preset (a name or a folder
    written by `save_to_preset`) or built from a config; its own layers run
    the whole sequence (`ImagePrefixDecoder`).

    Inputs are a dict: `images` `[B, H, W, 3]` (float, 0–255), `token_ids`,
    `padding_mask` and `response_mask` `[B, T]` (int32; the response mask
    marks answer tokens, and only matters with `attention="prefix"`). The
    output is the LM's final hidden states at the text positions,
    `[B, T, hidden_dim]`: `VisionCausalLM` turns them into next-token logits
    with the LM's own (reversible) token embedding.

    Args:
        image_encoder: an `ImageEncoder(..., output="tokens")`, e.g. over a
            KerasHub ViT or SigLIP vision encoder, or a `keras.applications`
            feature map.
        language_model: a KerasHub causal-LM backbone: `GPT2Backbone`,
            `GemmaBackbone`, `LlamaBackbone`, `MistralBackbone`,
            `QwenBackbone`, `Qwen3Backbone`.
        connector: a layer from image tokens `[B, N, C]` to `[B, P,
            hidden_dim]`: `MLPConnector` (linear or LLaVA-1.5's MLP) or
            `Resampler` (a fixed number of tokens). Defaults to
            `MLPConnector(hidden_dim, depth=2)`.
        attention: `"causal"` (LLaVA) or `"prefix"` (PaliGemma: image and
            prompt attend both ways).
        dtype: the dtype policy of the connector, when made here.

    Example:
    >>> import keras_hub, numpy as np
    >>> from vlpk.encoders import ImageEncoder, small_cnn
    >>> lm = keras_hub.models.GPT2Backbone(vocabulary_size=20, num_layers=1,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=80)
    >>> backbone = VisionLMBackbone(
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="tokens"), lm)
    >>> inputs = {"images": np.zeros((2, 16, 16, 3), "float32"),
    ...           "token_ids": np.ones((2, 5), "int32"),
    ...           "padding_mask": np.ones((2, 5), "int32"),
    ...           "response_mask": np.zeros((2, 5), "int32")}
    >>> backbone(inputs).shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        image_encoder,
        language_model,
        connector=None,
        attention="causal",
        dtype=None,
        **kwargs,
    ):
        if getattr(image_encoder, "output_mode", "tokens") != "tokens":
            raise ValueError(
                "A vision-language LM puts image tokens before the text: build "
                "the image encoder with ImageEncoder(..., output='tokens')."
            )
        # === Layers ===
        self.image_encoder = image_encoder
        self.language_model = language_model
        self.connector = connector or MLPConnector(
            language_model.hidden_dim, depth=2, dtype=dtype, name="connector"
        )
        self.decoder = ImagePrefixDecoder(
            language_model, attention, dtype=language_model.dtype_policy, name="decoder"
        )

        # === Functional model ===
        images = image_input(image_encoder)
        text = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask", "response_mask")
        }
        hidden = self.decoder(self.get_image_tokens(images), **text)
        super().__init__(
            inputs={"images": images, **text}, outputs=hidden, dtype=dtype, **kwargs
        )

        # === Config ===
        self.attention = attention

    @property
    def hidden_dim(self):
        return self.language_model.hidden_dim

    @property
    def vocabulary_size(self):
        return self.language_model.vocabulary_size

    @property
    def token_embedding(self):
        """The LM's token embedding; `reverse=True` gives next-token logits."""
        return self.language_model.token_embedding

    def get_image_tokens(self, images):
        """The prefix: image tokens in the LM's width, `[B, P, hidden_dim]`."""
        return self.connector(self.image_encoder(images))

    def get_config(self):
        config = super().get_config()
        config.update(
            {name: keras.layers.serialize(getattr(self, name)) for name in _SUBLAYERS}
        )
        config["attention"] = self.attention
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_backbone_config(config, _SUBLAYERS))
