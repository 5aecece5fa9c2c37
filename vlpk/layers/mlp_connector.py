"""`MLPConnector`: image tokens into a language model's width, token by token."""

import keras


@keras.saving.register_keras_serializable(package="vlpk")
class MLPConnector(keras.layers.Layer):
    """Maps each image token to the LM's width: LLaVA's projector.

    `depth=1` is LLaVA's linear projection; `depth=2` is LLaVA-1.5's
    `mlp2x_gelu` (linear, GELU, linear). The number of image tokens is
    unchanged: a 7 x 7 feature map gives 49 prefix tokens.

    Args:
        output_dim: the language model's hidden size.
        depth: the number of linear layers, 1 or more, with GELU between.

    Example:
    >>> import numpy as np
    >>> MLPConnector(8, depth=2)(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, output_dim, depth=2, **kwargs):
        super().__init__(**kwargs)
        if depth < 1:
            raise ValueError(f"depth must be at least 1; got {depth}")
        self.output_dim = output_dim
        self.depth = depth
        self.dense_layers = [
            keras.layers.Dense(
                output_dim,
                activation="gelu" if i < depth - 1 else None,
                dtype=self.dtype_policy,
                name=f"dense_{i}",
            )
            for i in range(depth)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = shape[:-1] + (self.output_dim,)

    def call(self, image_tokens):
        x = image_tokens
        for layer in self.dense_layers:
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({"output_dim": self.output_dim, "depth": self.depth})
        return config
