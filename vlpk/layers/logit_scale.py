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
    is clipped at `max_logit_scale` (100, as in CLIP). With `initial_bias`,
    a learned bias is packed too (`[batch, 2 * dim + 2]`), for SigLIP.

    Args:
        initial_temperature: the starting temperature (0.07 in CLIP, 0.1 in
            SigLIP).
        max_logit_scale: the upper bound of the scale.
        initial_bias: the starting bias of the sigmoid loss (-10 in SigLIP);
            None for no bias.

    Example:
    >>> import numpy as np
    >>> layer = LogitScale()
    >>> out = layer({"image": np.ones((2, 4)), "text": np.ones((2, 4))})
    >>> out.shape
    TensorShape([2, 9])
    """

    def __init__(
        self,
        initial_temperature=0.07,
        max_logit_scale=100.0,
        initial_bias=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.initial_temperature = initial_temperature
        self.max_logit_scale = max_logit_scale
        self.initial_bias = initial_bias

    def build(self, input_shape):
        self.log_logit_scale = self.add_weight(
            name="log_logit_scale",
            shape=(),
            initializer=keras.initializers.Constant(
                math.log(1.0 / self.initial_temperature)
            ),
            trainable=True,
        )
        if self.initial_bias is not None:
            self.logit_bias = self.add_weight(
                name="logit_bias",
                shape=(),
                initializer=keras.initializers.Constant(self.initial_bias),
                trainable=True,
            )

    def logit_scale(self):
        """The current scale, `min(exp(log_scale), max_logit_scale)`."""
        return ops.minimum(ops.exp(self.log_logit_scale), self.max_logit_scale)

    def call(self, inputs):
        image, text = inputs["image"], inputs["text"]
        scale = ops.cast(self.logit_scale(), image.dtype)
        ones = ops.ones_like(image[:, :1])
        packed = [image, text, ones * scale]
        if self.initial_bias is not None:
            packed.append(ones * ops.cast(self.logit_bias, image.dtype))
        return ops.concatenate(packed, axis=-1)

    def compute_output_shape(self, input_shape):
        image = input_shape["image"]
        extra = 1 if self.initial_bias is None else 2
        return (image[0], image[-1] + input_shape["text"][-1] + extra)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_temperature": self.initial_temperature,
                "max_logit_scale": self.max_logit_scale,
                "initial_bias": self.initial_bias,
            }
        )
        return config
