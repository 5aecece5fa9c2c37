"""The learnable temperature of contrastive training, packed with the embeddings."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vlpk")
class LogitScale(keras.layers.Layer):
    """Holds CLIP's learnable logit scale and packs it with both embeddings.

    A Keras loss sees only `y_true` and `y_pred`. A contrastive loss needs the
    image embeddings, the text embeddings and the temperature, and, to use the
    global batch under `tf.distribute`, it must see the embeddings themselves
    rather than a local similarity matrix. This layer therefore outputs one
    tensor `[image_embedding, text_embedding, logit_scale]` of shape
    `[batch, 2 * dim + 1]`; `vlpk.losses.unpack_contrastive` splits it again.

    The scale is learned in log space, starts at `1 / initial_temperature` and
    is clipped at `max_logit_scale` (100, as in CLIP).

    Args:
        initial_temperature: the starting temperature (0.07 in CLIP).
        max_logit_scale: the upper bound of the scale.

    Example:
    >>> layer = LogitScale()
    >>> out = layer({"image": np.ones((2, 4)), "text": np.ones((2, 4))})
    >>> out.shape
    TensorShape([2, 9])
    """

    def __init__(self, initial_temperature=0.07, max_logit_scale=100.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_temperature = initial_temperature
        self.max_logit_scale = max_logit_scale

    def build(self, input_shape):
        self.log_logit_scale = self.add_weight(
            name="log_logit_scale",
            shape=(),
            initializer=keras.initializers.Constant(
                math.log(1.0 / self.initial_temperature)
            ),
            trainable=True,
        )

    def logit_scale(self):
        """The current scale, `min(exp(log_scale), max_logit_scale)`."""
        return ops.minimum(ops.exp(self.log_logit_scale), self.max_logit_scale)

    def call(self, inputs):
        image, text = inputs["image"], inputs["text"]
        scale = ops.cast(self.logit_scale(), image.dtype)
        scale = ops.ones_like(image[:, :1]) * scale
        return ops.concatenate([image, text, scale], axis=-1)

    def compute_output_shape(self, input_shape):
        image = input_shape["image"]
        return (image[0], image[-1] + input_shape["text"][-1] + 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_temperature": self.initial_temperature,
                "max_logit_scale": self.max_logit_scale,
            }
        )
        return config
