"""`Resampler`: any number of image tokens into a fixed number, by attention."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vlpk")
class Resampler(keras.layers.Layer):
    """Learned queries that attend to the image tokens (Perceiver / Q-Former).

    The prefix is `num_queries` tokens whatever the image encoder gives, so
    a large feature map costs the LM a fixed number of positions. Each block
    is pre-norm: cross-attention from the queries to the image tokens, then
    a GELU MLP, each with a residual; the queries start as learned vectors
    shared by every image. A final linear layer maps to the LM's width.

    Args:
        num_queries: the number of output tokens.
        output_dim: the language model's hidden size.
        hidden_dim: the queries' width; defaults to `output_dim`.
        num_layers: the number of blocks.
        num_heads: attention heads; must divide `hidden_dim`.
        intermediate_dim: the MLP's hidden size; defaults to 4 x `hidden_dim`.

    Example:
    >>> import numpy as np
    >>> Resampler(4, output_dim=8, num_heads=2)(np.ones((2, 9, 6), "float32")).shape
    TensorShape([2, 4, 8])
    """

    def __init__(
        self,
        num_queries,
        output_dim,
        hidden_dim=None,
        num_layers=1,
        num_heads=4,
        intermediate_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_queries = num_queries
        self.output_dim = output_dim
        self.hidden_dim = hidden_dim or output_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim or 4 * self.hidden_dim
        if self.hidden_dim % num_heads:
            raise ValueError(
                f"num_heads ({num_heads}) must divide hidden_dim ({self.hidden_dim})"
            )
        policy = self.dtype_policy
        self.input_projection = keras.layers.Dense(
            self.hidden_dim, dtype=policy, name="input_projection"
        )
        self.blocks = [self._block(i, policy) for i in range(num_layers)]
        self.output_norm = keras.layers.LayerNormalization(
            dtype=policy, name="output_norm"
        )
        self.output_projection = keras.layers.Dense(
            output_dim, dtype=policy, name="output_projection"
        )

    def _block(self, i, policy):
        key_dim = self.hidden_dim // self.num_heads
        return {
            "query_norm": keras.layers.LayerNormalization(
                dtype=policy, name=f"block_{i}_query_norm"
            ),
            "image_norm": keras.layers.LayerNormalization(
                dtype=policy, name=f"block_{i}_image_norm"
            ),
            "attention": keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dtype=policy, name=f"block_{i}_attention"
            ),
            "mlp_norm": keras.layers.LayerNormalization(
                dtype=policy, name=f"block_{i}_mlp_norm"
            ),
            "mlp_hidden": keras.layers.Dense(
                self.intermediate_dim,
                activation="gelu",
                dtype=policy,
                name=f"block_{i}_mlp_hidden",
            ),
            "mlp_output": keras.layers.Dense(
                self.hidden_dim, dtype=policy, name=f"block_{i}_mlp_output"
            ),
        }

    def build(self, input_shape):
        self.queries = self.add_weight(
            shape=(self.num_queries, self.hidden_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="queries",
        )
        self.input_projection.build(input_shape)
        tokens = (None, None, self.hidden_dim)
        for block in self.blocks:
            for name in ("query_norm", "image_norm", "mlp_norm"):
                block[name].build(tokens)
            block["attention"].build(tokens, tokens)
            block["mlp_hidden"].build(tokens)
            block["mlp_output"].build((None, None, self.intermediate_dim))
        self.output_norm.build(tokens)
        self.output_projection.build(tokens)

    def call(self, image_tokens, training=None):
        image = self.input_projection(image_tokens)
        batch = ops.shape(image)[0]
        queries = ops.cast(self.queries, image.dtype)
        x = ops.broadcast_to(queries[None], (batch, self.num_queries, self.hidden_dim))
        for block in self.blocks:
            x = x + block["attention"](
                block["query_norm"](x), block["image_norm"](image), training=training
            )
            x = x + block["mlp_output"](block["mlp_hidden"](block["mlp_norm"](x)))
        return self.output_projection(self.output_norm(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_queries, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_queries": self.num_queries,
                "output_dim": self.output_dim,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
            }
        )
        return config
