"""Empirical bias correction of int8 outputs."""

import tempfile

import numpy as np
import tensorflow as tf

from tests.export.test_int8_equalization import embedder, images
from vlpk.export.tflite import bias_corrected, convert, interpreter_runner


def outputs(flatbuffer, xs):
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(flatbuffer)
        f.flush()
        runner = interpreter_runner(f.name)
        return np.stack([runner(images=x[None])["embedding"][0] for x in xs])


def test_bias_correction_removes_the_mean_int8_error():
    model = embedder()
    calibration, held_out = images(64, 1), images(64, 2)

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, "images")])
    def function(images):
        return {"embedding": model(images, training=False)}

    def representative():
        for x in calibration:
            yield {"images": x[None]}

    plain = convert(function, [model], "int8", representative)
    corrected_function = bias_corrected(function, plain, representative)
    # Same float outputs, shifted by the measured offset only.
    shift = np.asarray(function(calibration[:1])["embedding"]) - np.asarray(
        corrected_function(calibration[:1])["embedding"]
    )
    reference = np.asarray(model(held_out))
    before = outputs(plain, held_out) - reference
    np.testing.assert_allclose(
        shift[0], before.mean(0), atol=0.5 * np.abs(before.mean(0)).max()
    )
    corrected = convert(corrected_function, [model], "int8", representative)
    after = outputs(corrected, held_out) - reference
    # The mean error on held-out inputs shrinks; the spread around it stays.
    assert np.linalg.norm(after.mean(0)) < 0.5 * np.linalg.norm(before.mean(0))
    assert np.linalg.norm(before.mean(0)) > 0.2 * before.std(0).mean()
