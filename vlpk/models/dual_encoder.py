"""The dual encoder: CLIP-style image and text towers in one shared space."""

import keras

from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.projection_head import ProjectionHead
from vlpk.models.embedders import ContrastiveEmbedders
from vlpk.models.inputs import image_input, text_inputs
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class DualEncoder(ContrastiveEmbedders, keras.Model):
    """Embeds images and text into one space, for contrastive pretraining.

    Inputs are a dict `images` `[B, H, W, 3]` (float, 0–255), `token_ids` and
    `padding_mask` `[B, T]` (int32), as made by `vlpk.data` pipelines. Outputs
    are a dict:

    - `image_embedding`, `text_embedding`: L2-normalized `[B, embedding_dim]`;
    - `contrastive`: both embeddings and the learned logit scale packed in one
      tensor, the `y_pred` of `vlpk.losses.ContrastiveLoss`.

    Args:
        image_encoder: a model mapping `images` to pooled features `[B, D]`,
            e.g. `vlpk.encoders.ImageEncoder(..., output="pooled")`.
        text_encoder: a model mapping `{"token_ids", "padding_mask"}` to a dict
            with `pooled_output`, e.g. `vlpk.encoders.TextEncoder`.
        embedding_dim: size of the shared space.
        projection_hidden_dim: width of a non-linear projection head (the
            keras.io recipe); None for CLIP's linear projection.
        projection_dropout: dropout in the non-linear head.
        initial_temperature: the starting temperature (CLIP 0.07, SigLIP 0.1).
        initial_bias: the starting bias of `SigmoidContrastiveLoss` (SigLIP
            uses -10); None (CLIP) packs no bias.

    Example:
    >>> model = DualEncoder(image_encoder, text_encoder, embedding_dim=64)
    >>> model.compile(optimizer="adam",
    ...               loss={"contrastive": vlpk.losses.ContrastiveLoss()})
    >>> model.fit(vlpk.data.contrastive_dataset(...), epochs=1)
    """

    def __init__(
        self,
        image_encoder,
        text_encoder,
        embedding_dim=128,
        projection_hidden_dim=None,
        projection_dropout=0.0,
        initial_temperature=0.07,
        initial_bias=None,
        **kwargs,
    ):
        # === Layers ===
        image_projection = ProjectionHead(
            embedding_dim,
            hidden_dim=projection_hidden_dim,
            dropout=projection_dropout,
            name="image_projection",
        )
        text_projection = ProjectionHead(
            embedding_dim,
            hidden_dim=projection_hidden_dim,
            dropout=projection_dropout,
            name="text_projection",
        )
        logit_scale = LogitScale(
            initial_temperature, initial_bias=initial_bias, name="logit_scale"
        )

        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(text_encoder)
        image_features = image_encoder(images)
        if len(image_features.shape) != 2:
            raise ValueError(
                "DualEncoder needs a pooled image encoder ([batch, features]); "
                f"got output shape {image_features.shape}. Build it with "
                "output='pooled'."
            )
        text_features = text_encoder(text)["pooled_output"]
        image_embedding = image_projection(image_features)
        text_embedding = text_projection(text_features)
        contrastive = logit_scale({"image": image_embedding, "text": text_embedding})
        outputs = {
            "image_embedding": keras.layers.Identity(name="image_embedding")(
                image_embedding
            ),
            "text_embedding": keras.layers.Identity(name="text_embedding")(
                text_embedding
            ),
            "contrastive": keras.layers.Identity(name="contrastive")(contrastive),
        }
        super().__init__(inputs={"images": images, **text}, outputs=outputs, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.embedding_dim = embedding_dim
        self.projection_hidden_dim = projection_hidden_dim
        self.projection_dropout = projection_dropout
        self.initial_temperature = initial_temperature
        self.initial_bias = initial_bias
        self.image_projection = image_projection
        self.text_projection = text_projection
        self.logit_scale_layer = logit_scale

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.layers.serialize(self.image_encoder),
                "text_encoder": keras.layers.serialize(self.text_encoder),
                "embedding_dim": self.embedding_dim,
                "projection_hidden_dim": self.projection_hidden_dim,
                "projection_dropout": self.projection_dropout,
                "initial_temperature": self.initial_temperature,
                "initial_bias": self.initial_bias,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("image_encoder", "text_encoder")))
