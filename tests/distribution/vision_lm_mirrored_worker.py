"""A vision-language LM on 2 logical CPUs: `fit` and `DistributedTrainer`.

Prints one JSON line comparing, from the same initial weights on the same
global batches of 8, a single-device run with:

- `mirrored_fit`: `model.fit` under `MirroredStrategy` (the `mirrored` path);
- `mirrored_trainer`: `DistributedTrainer` under the same strategy (the
  step the `multi_worker` path runs, with the same collectives).

Every row has the same number of answer tokens, so the mean over each
replica's answer tokens, averaged over replicas (Keras's convention), is the
mean over the global batch's.
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vlpk  # noqa: E402, F401
from tests.models.test_vision_lm import IMAGE_SIZE, backbone  # noqa: E402
from vlpk.distribution import DistributedTrainer  # noqa: E402
from vlpk.models.vision_lm import VisionCausalLM  # noqa: E402

N, T, STEPS, ANSWER = 16, 7, 2, 3


def data():
    rng = np.random.default_rng(0)
    padding = np.ones((N, T), "int32")
    padding[::2, -1] = 0  # rows of different lengths
    weights = np.zeros((N, T), "int32")
    for row in range(N):
        end = int(padding[row].sum())
        weights[row, end - ANSWER : end] = 1
    x = {
        "images": rng.uniform(0, 255, (N, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32"),
        "token_ids": rng.integers(1, 40, (N, T)).astype("int32"),
        "padding_mask": padding,
        "response_mask": weights,
    }
    y = rng.integers(1, 40, (N, T)).astype("int32")
    return x, y, weights


def dataset():
    return tf.data.Dataset.from_tensor_slices(data()).batch(N // STEPS)


def build():
    model = VisionCausalLM(backbone("llama"))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    return model


def diff(a, b):
    return max(
        float(np.abs(u - v).max()) for u, v in zip(a.get_weights(), b.get_weights())
    )


single = build()
initial = single.get_weights()
single_losses = [
    float(single.train_on_batch(*batch, return_dict=True)["loss"])
    for batch in dataset()
]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = build()
    mirrored.set_weights(initial)
fit_loss = mirrored.fit(dataset(), epochs=1, verbose=0).history["loss"][-1]
with strategy.scope():
    stepped = build()
    stepped.set_weights(initial)
trainer = DistributedTrainer(
    stepped, strategy, {"answer": stepped.loss}, stepped.optimizer
)
trainer_losses = trainer.fit(dataset(), steps=STEPS, verbose=0)["loss"]
print(
    json.dumps(
        {
            "single_losses": single_losses,
            "fit_loss": float(fit_loss),
            "trainer_losses": trainer_losses,
            "fit_diff": diff(single, mirrored),
            "trainer_diff": diff(single, stepped),
            "moved": diff(single, build()),
        }
    )
)
sys.exit(0)
