"""Choosing and building a `tf.distribute` strategy, and the precision policy.

One config key picks the strategy:

- `"default"`: no distribution (one device);
- `"mirrored"`: `MirroredStrategy` over the given devices, or all local GPUs;
- `"multi_worker"`: `MultiWorkerMirroredStrategy`, configured by `TF_CONFIG`;
- `"tpu"`: `TPUStrategy` (the code path; no TPU is available to test it here).

Build the model and call `compile` inside `strategy.scope()`. vlpk's
contrastive losses and hard-negative sampler gather from every replica
themselves, and vlpk's pipelines emit int32 padding masks, avoiding the
bool-AddN failure of `fit` under `MirroredStrategy`.

`fit` fails under `MultiWorkerMirroredStrategy` in Keras 3.15 (keras#20585),
so multi-worker runs train with `vlpk.distribution.DistributedTrainer`, a small
`tf.function` step on `strategy.run` (`vlpk pretrain` switches to it by
itself when `strategy="multi_worker"`).
"""

import json
import os

import keras
import tensorflow as tf

from vlpk.errors import InputError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def build_strategy(kind="default", devices=None, tpu_address=None):
    """Returns the `tf.distribute.Strategy` named by `kind`.

    Args:
        kind: one of `STRATEGIES`.
        devices: for `"mirrored"`, the device names (e.g. `["/gpu:0",
            "/gpu:1"]`); None uses every local GPU (or the CPU without one).
        tpu_address: for `"tpu"`, the TPU name or address ("" for a local
            TPU VM).

    Example:
    >>> import keras
    >>> strategy = build_strategy("mirrored", devices=["/cpu:0"])
    >>> strategy.num_replicas_in_sync
    1
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    ...     model.compile("adam", "mse")
    """
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if kind == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu_address or ""
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise InputError(f"Unknown strategy {kind!r}; choose one of {STRATEGIES}.")


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError(
            "strategy 'multi_worker' needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": "
            '{"worker": ["host1:port", "host2:port"]}, "task": {"type": '
            '"worker", "index": 0}}\'.'
        )
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = config["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"TF_CONFIG is malformed ({error}): {raw}") from None
    if not 0 <= int(index) < len(workers):
        raise InputError(f"TF_CONFIG task index {index} is not among the workers.")


def set_precision(policy="float32"):
    """Sets Keras's global dtype policy (`mixed_bfloat16`, `mixed_float16`).

    Losses still compute in float32 (Keras casts `y_pred` to the loss dtype),
    and `model.compile` wraps the optimizer in loss scaling for float16.
    """
    if policy not in PRECISIONS:
        raise InputError(f"Unknown precision {policy!r}; choose one of {PRECISIONS}.")
    keras.mixed_precision.set_global_policy(policy)
