"""Hard negatives under MirroredStrategy on 2 logical CPUs.

Run as a script: prints one JSON line comparing, on one global batch, the
negatives each replica picks (and the gradients that flow back through them)
with the single-device result, with global and with local-only candidates;
then fits the ALBEF-style pretrainer for two steps under the strategy.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import keras  # noqa: E402

import vlpk  # noqa: E402, F401
from vlpk.layers.hard_negatives import HardNegativeSampler  # noqa: E402

B, D, N, C, T, H = 8, 6, 3, 4, 5, 4
rng = np.random.default_rng(0)


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


image = unit(rng.normal(size=(B, D)))
# Each text's hardest negative image lives on the *other* replica: text i is
# close to image (i + B/2) mod B, which is never its own.
text = unit(np.roll(image, B // 2, axis=0) + rng.normal(scale=0.3, size=(B, D)))
INPUTS = {
    "contrastive": np.concatenate([image, text, np.full((B, 1), 10.0)], -1).astype(
        "float32"
    ),
    "image_id": np.arange(B, dtype="int32"),
    "image_tokens": rng.normal(size=(B, N, C)).astype("float32"),
    "text_tokens": rng.normal(size=(B, T, H)).astype("float32"),
    "padding_mask": np.ones((B, T), "int32"),
}
WEIGHTS = rng.normal(size=(3 * B, T, H)).astype("float32")
# One strategy per process: a second one would reuse collective instance keys.
STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def run(sampler, inputs, weights):
    """Negatives and d(loss)/d(text tokens) for one (replica's) batch."""
    inputs = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
    with tf.GradientTape() as tape:
        tape.watch(inputs["text_tokens"])
        out = sampler(inputs, training=False)
        loss = tf.reduce_sum(out["text_tokens"] * weights)
    return out["text_tokens"], tape.gradient(loss, inputs["text_tokens"])


def regroup(per_replica_rows):
    """[replica][3 * b] rows -> the single-device [3 * B] layout."""
    parts = [np.split(rows, 3) for rows in per_replica_rows]
    return np.concatenate([np.concatenate([p[k] for p in parts]) for k in range(3)])


def compare(global_negatives):
    single_out, single_grad = run(HardNegativeSampler(), INPUTS, WEIGHTS)
    strategy = STRATEGY
    half = B // 2
    sampler = HardNegativeSampler(global_negatives=global_negatives)
    # Each replica's triplet weights: its rows of each of the three groups.
    weight_groups = np.split(WEIGHTS, 3)

    def replica_fn():
        r = tf.distribute.get_replica_context().replica_id_in_sync_group
        local = {
            k: tf.gather(v, tf.range(r * half, (r + 1) * half))
            for k, v in INPUTS.items()
        }
        weights = tf.concat(
            [tf.gather(g, tf.range(r * half, (r + 1) * half)) for g in weight_groups],
            axis=0,
        )
        return run(sampler, local, weights)

    out, grad = strategy.run(replica_fn)
    out = regroup([np.asarray(v) for v in strategy.experimental_local_results(out)])
    grad = np.concatenate(
        [np.asarray(v) for v in strategy.experimental_local_results(grad)]
    )
    return {
        "max_output_diff": float(np.abs(out - np.asarray(single_out)).max()),
        "max_grad_diff": float(np.abs(grad - np.asarray(single_grad)).max()),
    }


def fit_albef():
    from tests.models.test_image_text_pretrainer import albef, albef_losses, with_heads

    strategy = STRATEGY
    mask = np.ones((4, 6), "int32")
    batch = {
        "images": rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(5, 30, (4, 6)).astype("int32"),
        "padding_mask": mask,
    }
    x, y = with_heads(batch)
    y = {k: y[k] for k in ("contrastive", "matching", "masked_lm")}
    with strategy.scope():
        model = albef()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=albef_losses())
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0).history
    return {"losses": [float(v) for v in history["loss"]]}


print(
    json.dumps(
        {
            "global": compare(True),
            "local": compare(False),
            "albef_fit": fit_albef(),
        }
    )
)
