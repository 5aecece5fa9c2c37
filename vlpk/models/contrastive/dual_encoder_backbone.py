"""The dual-encoder backbone: image and text towers in one shared space."""

import keras
import keras_hub

from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.projection_head import ProjectionHead
from vlpk.models.contrastive.outputs import dual_encoder_graph
from vlpk.models.embedders import ContrastiveEmbedders
from vlpk.models.inputs import image_input, text_inputs
from vlpk.serialization import deserialize_backbone_config


@keras.saving.register_keras_serializable(package="vlpk")
class DualEncoderBackbone(ContrastiveEmbedders, keras_hub.models.Backbone):
    """Image encoder, text encoder, projections and the learned temperature.

    The bare architecture of CLIP-style models, with no loss: tasks such as
    `vlpk.models.ContrastivePretrainer` put an objective on it. Inputs are a
    dict `images` `[B, H, W, 3]` (float, 0–255), `token_ids` and
    `padding_mask` `[B, T]` (int32). Outputs are a dict:

    - `image_embedding`, `text_embedding`: L2-normalized `[B, embedding_dim]`;
    - `contrastive`: both embeddings and the learned logit scale (and bias,
      with `initial_bias`) packed in one tensor, the `y_pred` of
      `vlpk.losses.ContrastiveLoss` and `SigmoidContrastiveLoss`, which can
      then gather negatives across replicas.

    Args:
        image_encoder: a model mapping `images` to pooled features `[B, D]`,
            e.g. `vlpk.encoders.ImageEncoder(..., output="pooled")`.
        text_encoder: a model mapping `{"token_ids", "padding_mask"}` to a
            dict with `pooled_output`, e.g. `vlpk.encoders.TextEncoder`.
        embedding_dim: size of the shared space.
        projection_hidden_dim: width of a non-linear projection head (the
            keras.io recipe); None for CLIP's linear projection.
        projection_dropout: dropout in the non-linear head.
        initial_temperature: the starting temperature (CLIP 0.07, SigLIP 0.1).
        initial_bias: the starting bias of `SigmoidContrastiveLoss` (SigLIP
            uses -10); None (CLIP) packs no bias.
        dtype: the dtype policy of the backbone's own layers (e.g.
            `"mixed_bfloat16"`); the encoders keep theirs.

    Example:
    >>> import numpy as np
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> backbone = DualEncoderBackbone(
    ...     ImageEncoder(small_cnn(32, widths=(8,)), output="pooled"),
    ...     bert_encoder(30, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=6),
    ...     embedding_dim=4)
    >>> images = np.zeros((2, 32, 32, 3), "float32")
    >>> backbone.get_image_embeddings(images).shape
    TensorShape([2, 4])
    >>> backbone.get_text_embeddings(np.ones((2, 6), "int32"),
    ...                              np.ones((2, 6), "int32")).shape
    TensorShape([2, 4])
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
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        # Built and called in the order of the former `DualEncoderBackbone`, with its
        # layer names, so one seed gives the same initial weights as before.
        self.image_projection = ProjectionHead(
            embedding_dim,
            hidden_dim=projection_hidden_dim,
            dropout=projection_dropout,
            dtype=dtype,
            name="image_projection",
        )
        self.text_projection = ProjectionHead(
            embedding_dim,
            hidden_dim=projection_hidden_dim,
            dropout=projection_dropout,
            dtype=dtype,
            name="text_projection",
        )
        self.logit_scale_layer = LogitScale(
            initial_temperature,
            initial_bias=initial_bias,
            dtype=dtype,
            name="logit_scale",
        )
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder

        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(text_encoder)
        inputs, outputs = dual_encoder_graph(self, images, text)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.embedding_dim = embedding_dim
        self.projection_hidden_dim = projection_hidden_dim
        self.projection_dropout = projection_dropout
        self.initial_temperature = initial_temperature
        self.initial_bias = initial_bias

    def get_image_features(self, images):
        """The pooled image features `[B, C]`, before the projection."""
        features = self.image_encoder(images)
        if len(features.shape) != 2:
            raise ValueError(
                "DualEncoderBackbone needs a pooled image encoder ([batch, "
                f"features]); got output shape {features.shape}. Build it with "
                "output='pooled'."
            )
        return features

    def get_image_embeddings(self, images):
        """L2-normalized image embeddings `[B, embedding_dim]`."""
        return self.image_projection(self.get_image_features(images))

    def get_text_features(self, token_ids, padding_mask):
        """The text encoder's pooled output `[B, H]`, before the projection."""
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        return self.text_encoder(inputs)["pooled_output"]

    def get_text_embeddings(self, token_ids, padding_mask):
        """L2-normalized text embeddings `[B, embedding_dim]`."""
        return self.text_projection(self.get_text_features(token_ids, padding_mask))

    @property
    def has_logit_bias(self):
        """Whether a bias is packed (SigLIP): the task then uses a sigmoid loss."""
        return self.initial_bias is not None

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
        return cls(
            **deserialize_backbone_config(config, ("image_encoder", "text_encoder"))
        )
