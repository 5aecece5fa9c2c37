"""A tiny image embedder with uneven channels, and its int8 plumbing."""

import tempfile

import keras
import numpy as np
import tensorflow as tf

from vlpk.encoders import ImageEncoder, small_cnn
from vlpk.export.tflite import interpreter_runner


def embedder(norm="group", seed=0):
    """images -> small CNN -> mean -> dense, with channel scales spread over
    three decades (trained encoders have up to two)."""
    keras.utils.set_random_seed(seed)
    encoder = ImageEncoder(
        small_cnn(16, widths=(16, 32), norm=norm), output="tokens", name="encoder"
    )
    images = keras.Input((16, 16, 3), name="images")
    x = keras.ops.mean(encoder(images), axis=1)
    model = keras.Model(images, keras.layers.Dense(8, name="projection")(x))
    rng = np.random.default_rng(seed)
    for layer in encoder.backbone.layers:
        if isinstance(layer, keras.layers.Conv2D):
            spread = 10 ** rng.uniform(-1.5, 1.5, layer.filters)
            layer.kernel.assign(np.asarray(layer.kernel) * spread)
        if isinstance(layer, keras.layers.GroupNormalization):
            spread = 10 ** rng.uniform(-1.5, 1.5, layer.gamma.shape[0])
            layer.gamma.assign(np.asarray(layer.gamma) * spread)
            layer.beta.assign(rng.normal(0, 0.5, layer.beta.shape[0]) * spread)
    return model


def images(n, seed):
    return np.random.default_rng(seed).uniform(0, 1, (n, 16, 16, 3)).astype("float32")


def signature(model):
    """The model as the batch-1 `tf.function` that `convert` takes."""

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, "images")])
    def function(images):
        return {"embedding": model(images, training=False)}

    return function


def representative(calibration):
    def inputs():
        for x in calibration:
            yield {"images": x[None]}

    return inputs


def lite_outputs(flatbuffer, xs):
    """The `embedding` of each of `xs` from a `.tflite` flatbuffer."""
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(flatbuffer)
        f.flush()
        runner = interpreter_runner(f.name)
        return np.stack([runner(images=x[None])["embedding"][0] for x in xs])
