"""An image+text classifier: encoders, a fusion layer and a softmax head."""

import keras

from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.cross_attention_fusion import CrossAttentionFusion
from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.inputs import image_input, text_inputs
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class FusionClassifier(keras.Model):
    """Classifies an (image, text) pair: VQA answers, caption matching, ...

    With `ConcatFusion` it joins the pooled image vector and the pooled text
    vector (the VGG16 course design). With `CrossAttentionFusion` the text
    tokens attend to the image tokens and the fused `[CLS]` token is
    classified (ALBEF style).

    Inputs: `images`, `token_ids`, `padding_mask`. Output: a dict with
    `predictions` `[B, num_classes]` (probabilities with the default softmax,
    logits with `activation=None`).

    Args:
        image_encoder: pooled output for `ConcatFusion`, tokens for
            `CrossAttentionFusion`.
        text_encoder: a model returning `sequence_output` and `pooled_output`.
        fusion: a `ConcatFusion` or `CrossAttentionFusion` layer.
        num_classes: the number of classes.
        activation: the head's activation, "softmax" or None for logits.
        dropout: dropout before the head.

    Example:
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> images = ImageEncoder(small_cnn(32, widths=(8,)), output="pooled")
    >>> text = bert_encoder(30, num_layers=1, num_heads=2, hidden_dim=8,
    ...                     intermediate_dim=16, max_sequence_length=6)
    >>> fusion = ConcatFusion(hidden_dims=(16,))
    >>> model = FusionClassifier(images, text, fusion, num_classes=10)
    >>> import numpy as np
    >>> model.compile("adam", loss={"predictions": "sparse_categorical_crossentropy"})
    >>> x = {"images": np.zeros((2, 32, 32, 3), "float32"),
    ...      "token_ids": np.ones((2, 6), "int32"),
    ...      "padding_mask": np.ones((2, 6), "int32")}
    >>> model(x)["predictions"].shape
    TensorShape([2, 10])
    """

    def __init__(
        self,
        image_encoder,
        text_encoder,
        fusion,
        num_classes,
        activation="softmax",
        dropout=0.0,
        **kwargs,
    ):
        # === Layers ===
        dropout_layer = keras.layers.Dropout(dropout, name="head_dropout")
        head = keras.layers.Dense(num_classes, activation=activation, name="head")

        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(text_encoder)
        image_features = image_encoder(images)
        text_features = text_encoder(text)
        if isinstance(fusion, CrossAttentionFusion):
            fused = fusion(
                {
                    "text": text_features["sequence_output"],
                    "image": image_features,
                    "padding_mask": text["padding_mask"],
                }
            )
            fused = TokenPooling(mode="cls", name="fused_pooling")(fused)
        elif isinstance(fusion, ConcatFusion) or len(image_features.shape) == 2:
            fused = fusion(
                {"image": image_features, "text": text_features["pooled_output"]}
            )
        else:
            raise ValueError(f"Unsupported fusion layer {fusion!r}.")
        predictions = head(dropout_layer(fused))
        outputs = {
            "predictions": keras.layers.Identity(name="predictions")(predictions)
        }
        super().__init__(inputs={"images": images, **text}, outputs=outputs, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.fusion = fusion
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.layers.serialize(self.image_encoder),
                "text_encoder": keras.layers.serialize(self.text_encoder),
                "fusion": keras.layers.serialize(self.fusion),
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout": self.dropout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        keys = ("image_encoder", "text_encoder", "fusion")
        return cls(**deserialize_nested(config, keys))
