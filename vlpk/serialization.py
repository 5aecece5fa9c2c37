"""The one helper every composite vlpk layer and model uses in `from_config`."""

import copy

import keras


def deserialize_nested(config, keys):
    """A copy of `config` with the serialized sub-layers under `keys` revived.

    Composite objects (encoders wrapping a backbone, models wrapping encoders,
    preprocessors wrapping a tokenizer) store sub-layers with
    `keras.layers.serialize`. `deserialize` consumes nested configs in place,
    so each one is deep-copied first and the caller's config stays intact.

    Example:
    >>> config = {"image_encoder": keras.layers.serialize(keras.layers.Dense(2)),
    ...           "embedding_dim": 4}
    >>> config = deserialize_nested(config, ("image_encoder", "text_encoder"))
    >>> type(config["image_encoder"]).__name__, config["embedding_dim"]
    ('Dense', 4)
    """
    config = dict(config)
    for key in keys:
        if isinstance(config.get(key), dict):
            config[key] = keras.layers.deserialize(copy.deepcopy(config[key]))
    return config


def deserialize_backbone_config(config, keys):
    """`deserialize_nested`, plus the `dtype` policy a backbone config holds.

    KerasHub's `Backbone.get_config` stores `dtype` as a serialized policy;
    the constructor wants the policy object.
    """
    config = deserialize_nested(config, keys)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.get(config["dtype"])
    return config
