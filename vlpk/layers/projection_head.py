"""The projection head that maps encoder features into the shared space."""

import keras


@keras.saving.register_keras_serializable(package="vlpk")
class ProjectionHead(keras.layers.Layer):
    """Projects features to `embedding_dim` and L2-normalizes them.

    With `hidden_dim` set it is the keras.io dual-encoder head: a linear
    projection, GELU, a second linear layer, dropout, a residual connection
    and layer normalization. Without it, a single linear map (CLIP).

    Args:
        embedding_dim: size of the shared embedding space.
        hidden_dim: width of the optional hidden layer; None for linear.
        dropout: dropout rate in the non-linear head.
        normalize: L2-normalize the output (cosine similarity downstream).

    Example:
    >>> import numpy as np
    >>> ProjectionHead(16)(np.ones((2, 8))).shape
    TensorShape([2, 16])
    """

    def __init__(
        self, embedding_dim, hidden_dim=None, dropout=0.0, normalize=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.normalize = normalize
        # Sub-layers take this layer's policy: a head built with
        # `dtype="mixed_bfloat16"` then computes in bfloat16 throughout.
        policy = self.dtype_policy
        self.projection = keras.layers.Dense(
            embedding_dim, dtype=policy, name="projection"
        )
        if hidden_dim is not None:
            self.hidden = keras.layers.Dense(
                embedding_dim, activation="gelu", dtype=policy, name="hidden"
            )
            self.dropout_layer = keras.layers.Dropout(
                dropout, dtype=policy, name="dropout"
            )
            self.layer_norm = keras.layers.LayerNormalization(
                dtype=policy, name="layer_norm"
            )
        self.unit_norm = keras.layers.UnitNormalization(
            axis=-1, dtype=policy, name="l2_normalize"
        )

    def build(self, input_shape):
        self.projection.build(input_shape)
        if self.hidden_dim is not None:
            self.hidden.build((None, self.embedding_dim))
            self.layer_norm.build((None, self.embedding_dim))

    def project(self, x, training=None):
        """The projection without the final L2 normalization."""
        x = self.projection(x)
        if self.hidden_dim is not None:
            x = self.layer_norm(
                x + self.dropout_layer(self.hidden(x), training=training)
            )
        return x

    def call(self, x, training=None):
        x = self.project(x, training=training)
        if self.normalize:
            x = self.unit_norm(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "normalize": self.normalize,
            }
        )
        return config
