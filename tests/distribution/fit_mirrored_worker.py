"""`model.fit` of a DualEncoderBackbone under MirroredStrategy on 2 logical CPUs.

Prints one JSON line with the losses of a 2-replica run and a single-device
run from the same initial weights on the same global batches.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402

import vlpk  # noqa: E402, F401
from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn  # noqa: E402
from vlpk.losses import ContrastiveLoss  # noqa: E402
from vlpk.models import DualEncoderBackbone  # noqa: E402

rng = np.random.default_rng(0)
N, T = 16, 6
x = {
    "images": rng.uniform(0, 255, (N, 32, 32, 3)).astype("float32"),
    "token_ids": rng.integers(5, 30, (N, T)).astype("int32"),
    "padding_mask": np.ones((N, T), "int32"),
}
y = {"contrastive": np.arange(N)}


def build():
    keras.utils.set_random_seed(0)
    model = DualEncoderBackbone(
        ImageEncoder(small_cnn(32, (8, 16)), normalization="unit"),
        bert_encoder(
            30,
            num_layers=1,
            hidden_dim=16,
            max_sequence_length=T,
            dropout=0.0,
            pooling="pooler",
        ),
        embedding_dim=8,
    )
    model.compile(keras.optimizers.SGD(0.1), loss={"contrastive": ContrastiveLoss()})
    return model


def dataset():
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


single = build()
initial = single.get_weights()
single_losses = [float(single.train_on_batch(xb, yb)) for xb, yb in dataset()]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = build()
    mirrored.set_weights(initial)
history = mirrored.fit(dataset(), epochs=1, verbose=0)
weights_diff = max(
    float(np.abs(a - b).max())
    for a, b in zip(single.get_weights(), mirrored.get_weights())
)
print(
    json.dumps(
        {
            "single_losses": single_losses,
            "mirrored_loss": history.history["loss"][-1],
            "weights_diff": weights_diff,
        }
    )
)
sys.exit(0)
