"""Packs embeddings with the logit scale (and bias) a KerasHub head learns."""

import keras
from keras import ops

# CLIP's bound on its logit scale, as in `vlpk.layers.LogitScale`.
CLIP_MAX_LOGIT_SCALE = 100.0


@keras.saving.register_keras_serializable(package="vlpk")
class HeadLogitScale(keras.layers.Layer):
    """`vlpk.layers.LogitScale`'s packing, with a KerasHub head's variables.

    A KerasHub `CLIPBackbone` keeps its learned temperature in
    `clip_head.logit_scale`, and a `SigLIPBackbone` its temperature and bias
    in `siglip_head.logit_scale` and `.logit_bias`. This layer holds a
    reference to that head and packs `[image_embedding, text_embedding,
    exp(logit_scale)]` (and, with a `logit_bias`, the bias), the `y_pred` of
    `vlpk.losses.ContrastiveLoss` and `SigmoidContrastiveLoss`. It creates no
    variable: the loss trains the head's own, so a fine-tuned model is still
    a KerasHub model with its own head.

    Both variables are in KerasHub's form: the scale is a log (applied with
    `exp`), the bias is added as it is.

    Args:
        head: a built KerasHub `CLIPHead` or `SigLIPHead` (any layer with a
            `logit_scale` variable, and optionally `logit_bias`).
        max_logit_scale: the upper bound of `exp(logit_scale)`, as in
            `LogitScale` (CLIP clips at 100); None for no bound (SigLIP).

    Example:
    >>> import keras_hub, numpy as np
    >>> from keras_hub.models import CLIPTextEncoder, CLIPVisionEncoder
    >>> vision = CLIPVisionEncoder(4, 8, 1, 2, 16, image_shape=(8, 8, 3))
    >>> text = CLIPTextEncoder(10, 8, 8, 1, 2, 16, max_sequence_length=4)
    >>> clip = keras_hub.models.CLIPBackbone(vision, text, projection_dim=4)  # tiny
    >>> packer = HeadLogitScale(clip.clip_head)
    >>> packed = packer({"image": np.ones((2, 4)), "text": np.zeros((2, 4))})
    >>> packed.shape, packer.has_bias  # both embeddings, then the scale
    (TensorShape([2, 9]), False)
    >>> round(float(packed[0, -1]), 3)  # exp(logit_scale): CLIP starts at 1 / 0.07
    14.286
    """

    def __init__(self, head, max_logit_scale=CLIP_MAX_LOGIT_SCALE, **kwargs):
        super().__init__(**kwargs)
        # Tracked as a sub-layer, so its variables count once in the model's
        # weights (Keras deduplicates shared variables) and save with it.
        if not head.built:
            # Only a head revived on its own (`from_config`) is not built yet;
            # KerasHub heads ignore the shape.
            head.build(None)
        self.head = head
        self.max_logit_scale = max_logit_scale

    @property
    def has_bias(self):
        """Whether the head learns a bias (SigLIP) and it is packed."""
        return getattr(self.head, "logit_bias", None) is not None

    def logit_scale(self):
        """The current scale, `exp(logit_scale)`, capped at `max_logit_scale`."""
        scale = ops.exp(self.head.logit_scale)
        if self.max_logit_scale is not None:
            scale = ops.minimum(scale, self.max_logit_scale)
        return scale

    def call(self, inputs):
        image, text = inputs["image"], inputs["text"]
        ones = ops.ones_like(image[:, :1])
        packed = [image, text, ones * ops.cast(self.logit_scale(), image.dtype)]
        if self.has_bias:
            packed.append(ones * ops.cast(self.head.logit_bias, image.dtype))
        return ops.concatenate(packed, axis=-1)

    def compute_output_shape(self, input_shape):
        image = input_shape["image"]
        extra = 2 if self.has_bias else 1
        return (image[0], image[-1] + input_shape["text"][-1] + extra)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                # A revived layer gets a new head; inside
                # `KerasHubDualEncoderBackbone` it is rebuilt on the backbone's.
                "head": keras.layers.serialize(self.head),
                "max_logit_scale": self.max_logit_scale,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["head"] = keras.layers.deserialize(config["head"])
        return cls(**config)
