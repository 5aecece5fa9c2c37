"""`TextEncoder`: a KerasHub text backbone behind one input and output contract."""

import keras
from keras import ops

from vlpk.layers.token_pooling import TokenPooling
from vlpk.serialization import deserialize_nested

POOLINGS = ("cls", "mean", "pooler")


@keras.saving.register_keras_serializable(package="vlpk")
class ZeroSegmentIds(keras.layers.Layer):
    """Returns int32 zeros shaped like `token_ids`: every token in segment 0.

    BERT-style backbones take `segment_ids`; a single-sentence encoder feeds
    zeros. A layer (not a `Lambda`) keeps the model loadable with
    `safe_mode=True`.

    Example:

    ```python
    import numpy as np
    ZeroSegmentIds()(np.ones((2, 4), "int32"))  # zeros, shape (2, 4)
    ```
    """

    def call(self, token_ids):
        return ops.zeros_like(token_ids, dtype="int32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="int32")


@keras.saving.register_keras_serializable(package="vlpk")
class TextEncoder(keras.Model):
    """Wraps a KerasHub text backbone: token ids in, sequence and pooled out.

    Inputs are a dict of two int32 tensors of shape `(batch, seq)`:
    `token_ids` and `padding_mask` (1 for real tokens, 0 for padding). The
    mask is int32, not bool, because a bool input breaks `fit` under
    `tf.distribute.MirroredStrategy`. Backbones that also take `segment_ids`
    (BERT) get zeros.

    Outputs are a dict: `sequence_output` of shape `(batch, seq, dim)` and
    `pooled_output` of shape `(batch, dim)`.

    Args:
        backbone: a KerasHub text backbone, e.g. `keras_hub.models.BertBackbone`,
            `RobertaBackbone` or `DistilBertBackbone`.
        pooling: how `pooled_output` is computed: `"cls"` (the first token),
            `"mean"` (mean of the non-padding tokens), or `"pooler"` (the
            backbone's own `pooled_output`, a dense layer on `[CLS]`; BERT only).
        max_sequence_length: fixes the input length; `None` accepts any
            length up to the backbone's maximum.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:

    ```python
    import keras_hub
    import numpy as np
    from vlpk.encoders import TextEncoder

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=8,
    )
    encoder = TextEncoder(backbone, pooling="mean")
    outputs = encoder({
        "token_ids": np.ones((2, 8), "int32"),
        "padding_mask": np.ones((2, 8), "int32"),
    })
    outputs["pooled_output"].shape  # (2, 16)
    ```
    """

    def __init__(self, backbone, pooling="cls", max_sequence_length=None, **kwargs):
        if pooling not in POOLINGS:
            raise ValueError(
                f"`pooling` must be one of {POOLINGS}. Received: pooling={pooling!r}"
            )
        backbone_inputs = _input_names(backbone)
        unknown = set(backbone_inputs) - {"token_ids", "padding_mask", "segment_ids"}
        if unknown:
            raise ValueError(
                "TextEncoder feeds `token_ids`, `padding_mask` and `segment_ids`; "
                f"the backbone {backbone.name!r} also needs {sorted(unknown)}."
            )

        # === Layers ===
        self.backbone = backbone

        # === Functional Model ===
        token_ids = keras.Input(
            shape=(max_sequence_length,), dtype="int32", name="token_ids"
        )
        padding_mask = keras.Input(
            shape=(max_sequence_length,), dtype="int32", name="padding_mask"
        )
        feed = {"token_ids": token_ids, "padding_mask": padding_mask}
        if "segment_ids" in backbone_inputs:
            feed["segment_ids"] = ZeroSegmentIds(name="segment_ids")(token_ids)
        feed = {name: feed[name] for name in backbone_inputs}
        outputs = backbone(feed)

        if isinstance(outputs, dict):
            sequence = outputs["sequence_output"]
        else:
            sequence = outputs
        if pooling == "pooler":
            if not (isinstance(outputs, dict) and "pooled_output" in outputs):
                raise ValueError(
                    'pooling="pooler" needs a backbone with a `pooled_output` '
                    f"(BertBackbone); {type(backbone).__name__} has none. Use "
                    '"cls" or "mean".'
                )
            pooled = outputs["pooled_output"]
        elif pooling == "mean":
            pooled = TokenPooling("mean", name="pooling")(
                sequence, padding_mask=padding_mask
            )
        else:
            pooled = TokenPooling("cls", name="pooling")(sequence)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": sequence, "pooled_output": pooled},
            **kwargs,
        )

        # === Config ===
        self.pooling = pooling
        self.max_sequence_length = max_sequence_length
        self._output_dim = sequence.shape[-1]

    @property
    def output_dim(self):
        """Size of the last axis of both outputs."""
        return self._output_dim

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "pooling": self.pooling,
            "max_sequence_length": self.max_sequence_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, ("backbone",)))


def _input_names(backbone):
    structure = backbone.input
    if not isinstance(structure, dict):
        raise ValueError(
            "TextEncoder needs a backbone with named dict inputs (`token_ids`, "
            f"`padding_mask`, ...), like KerasHub text backbones. "
            f"{backbone.name!r} takes {structure}."
        )
    return list(structure)
