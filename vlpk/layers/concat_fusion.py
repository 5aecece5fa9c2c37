"""Concatenation fusion: pooled image features ⊕ pooled text features → MLP."""

import keras


@keras.saving.register_keras_serializable(package="vlpk")
class ConcatFusion(keras.layers.Layer):
    """Fuses a pooled image vector and a pooled text vector by concatenation.

    This is the seed design of the VGG16 course (`Concatenate` then `Dense`),
    made correct: both inputs must be 2-D `[batch, features]`. A 4-D VGG16
    feature map concatenated with a 2-D text vector is the classic mistake;
    this layer says so instead of failing deep inside `Concatenate`.

    Args:
        hidden_dims: widths of the MLP applied after concatenation.
        dropout: dropout rate after each hidden layer.
        activation: the hidden activation.

    Call arguments:
        inputs: a dict with `image` `[batch, d_image]` and `text`
            `[batch, d_text]`.

    Returns:
        `[batch, hidden_dims[-1]]` (or `d_image + d_text` when `hidden_dims`
        is empty).

    Example:
    >>> import numpy as np
    >>> fusion = ConcatFusion(hidden_dims=(32,))
    >>> fusion({"image": np.ones((2, 8)), "text": np.ones((2, 4))}).shape
    TensorShape([2, 32])
    """

    def __init__(self, hidden_dims=(256,), dropout=0.0, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden_dims = tuple(int(d) for d in hidden_dims)
        self.dropout = dropout
        self.activation = activation
        policy = self.dtype_policy  # sub-layers compute as this layer does
        self.concat = keras.layers.Concatenate(axis=-1, dtype=policy, name="concat")
        self.hidden = [
            keras.layers.Dense(
                d, activation=activation, dtype=policy, name=f"hidden_{i}"
            )
            for i, d in enumerate(self.hidden_dims)
        ]
        self.dropouts = [
            keras.layers.Dropout(dropout, dtype=policy, name=f"dropout_{i}")
            for i in range(len(self.hidden_dims))
        ]

    def _check(self, image_shape, text_shape):
        for name, shape in (("image", image_shape), ("text", text_shape)):
            if len(shape) != 2:
                raise ValueError(
                    f"ConcatFusion expects a pooled 2-D `{name}` input "
                    f"[batch, features]; got shape {tuple(shape)}. For an image "
                    "feature map use ImageEncoder(output='pooled'), which applies "
                    "global average pooling, or use CrossAttentionFusion on tokens."
                )

    def build(self, input_shape):
        self._check(input_shape["image"], input_shape["text"])
        dim = input_shape["image"][-1] + input_shape["text"][-1]
        self.concat.build([input_shape["image"], input_shape["text"]])
        for dense in self.hidden:
            dense.build((None, dim))
            dim = dense.units

    def call(self, inputs, training=None):
        x = self.concat([inputs["image"], inputs["text"]])
        for dense, dropout in zip(self.hidden, self.dropouts):
            x = dropout(dense(x), training=training)
        return x

    def compute_output_shape(self, input_shape):
        self._check(input_shape["image"], input_shape["text"])
        dim = input_shape["image"][-1] + input_shape["text"][-1]
        if self.hidden_dims:
            dim = self.hidden_dims[-1]
        return (input_shape["image"][0], dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dims": list(self.hidden_dims),
                "dropout": self.dropout,
                "activation": self.activation,
            }
        )
        return config
