"""Computes contrastive losses and gradients on 2 logical CPU replicas.

Run as a script (the logical devices must be configured before TensorFlow
starts): prints one JSON line comparing each loss under `MirroredStrategy`
with the single-device value on the same global batch.
"""

import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import vlpk  # noqa: E402, F401
from vlpk.losses import ContrastiveLoss, SigmoidContrastiveLoss  # noqa: E402

BATCH, DIM, REPLICAS = 8, 6, 2
rng = np.random.default_rng(0)


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


IMAGE = unit(rng.normal(size=(BATCH, DIM)))
TEXT = unit(IMAGE + rng.normal(scale=0.7, size=(BATCH, DIM)))
# Two captions of image 0 sit on different replicas: ids must be gathered too.
IDS = np.array([0, 1, 2, 3, 0, 5, 6, 7], "int64")


def pack(image, text, with_bias):
    ones = tf.ones_like(image[:, :1])
    parts = [image, text, ones * 10.0] + ([ones * -2.0] if with_bias else [])
    return tf.concat(parts, axis=-1)


def loss_and_grads(loss_fn, image, text, ids, with_bias):
    with tf.GradientTape() as tape:
        tape.watch([image, text])
        loss = loss_fn(ids, pack(image, text, with_bias))
    return loss, tape.gradient(loss, [image, text])


def single_device(loss_fn, with_bias):
    loss, (gi, gt) = loss_and_grads(
        loss_fn, tf.constant(IMAGE), tf.constant(TEXT), tf.constant(IDS), with_bias
    )
    return float(loss), gi.numpy(), gt.numpy()


# One strategy for the whole process: collective instance keys are per
# strategy, and a second strategy would reuse keys the first already used.
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def mirrored(loss_fn, with_bias):
    local = BATCH // REPLICAS

    def value(array):
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(
                array[ctx.replica_id_in_sync_group * local :][:local]
            )
        )

    @tf.function
    def step(image, text, ids):
        return strategy.run(
            lambda i, t, d: loss_and_grads(loss_fn, i, t, d, with_bias),
            args=(image, text, ids),
        )

    loss, (gi, gt) = step(value(IMAGE), value(TEXT), value(IDS))
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
    concat = lambda v: np.concatenate(  # noqa: E731
        [x.numpy() for x in strategy.experimental_local_results(v)]
    )
    return float(total), concat(gi), concat(gt)


def compare(loss_cls, with_bias, global_negatives):
    reference = single_device(loss_cls(), with_bias)
    distributed = mirrored(loss_cls(global_negatives=global_negatives), with_bias)
    return {
        "loss_single": reference[0],
        "loss_mirrored": distributed[0],
        "max_grad_diff": float(
            max(np.abs(reference[i] - distributed[i]).max() for i in (1, 2))
        ),
    }


results = {}
for name, cls, bias in [
    ("contrastive", ContrastiveLoss, False),
    ("sigmoid", SigmoidContrastiveLoss, True),
]:
    for global_negatives in (True, False):
        key = f"{name}_{'global' if global_negatives else 'local'}"
        results[key] = compare(cls, bias, global_negatives)
print(json.dumps(results))
