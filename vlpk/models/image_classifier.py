"""An image classifier on a (pretrained) image encoder: linear probe or fine-tune."""

import keras

from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.inputs import image_input
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class ImageClassifier(keras.Model):
    """An image encoder, mean pooling (for token outputs) and a linear head.

    A *linear probe* freezes the encoder (`image_encoder.trainable = False`)
    and trains the head alone; *fine-tuning* trains both. The features are
    the pooled encoder output, before any contrastive projection, as in the
    CLIP paper's linear probes.

    Inputs: `images` `[B, H, W, 3]` (0–255). Output: a dict with
    `predictions` `[B, num_classes]` (logits with the default
    `activation=None`).

    Args:
        image_encoder: a `vlpk.encoders.ImageEncoder` (pooled or tokens).
        num_classes: the number of classes.
        activation: the head's activation; None gives logits.
        dropout: dropout before the head.

    Example:
    >>> model = ImageClassifier(image_encoder, num_classes=4)
    >>> model.compile("adam", loss={"predictions":
    ...     keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    """

    def __init__(
        self, image_encoder, num_classes, activation=None, dropout=0.0, **kwargs
    ):
        # === Layers ===
        pooling = TokenPooling("mean", name="feature_pooling")
        dropout_layer = keras.layers.Dropout(dropout, name="head_dropout")
        head = keras.layers.Dense(
            num_classes, activation=activation, dtype="float32", name="head"
        )

        # === Functional model ===
        images = image_input(image_encoder)
        features = image_encoder(images)
        if len(features.shape) == 3:
            features = pooling(features)
        predictions = head(dropout_layer(features))
        outputs = {
            "predictions": keras.layers.Identity(name="predictions")(predictions)
        }
        super().__init__(inputs={"images": images}, outputs=outputs, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.layers.serialize(self.image_encoder),
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout": self.dropout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("image_encoder",)))
