"""Empirical bias correction of int8 outputs."""

import numpy as np

from tests.export.int8_helpers import (
    embedder,
    images,
    lite_outputs,
    representative,
    signature,
)
from vlpk.export.tflite import bias_corrected, convert


def test_bias_correction_removes_the_mean_int8_error():
    model = embedder()
    calibration, held_out = images(64, 1), images(64, 2)
    function, inputs = signature(model), representative(calibration)
    plain = convert(function, [model], "int8", inputs)
    corrected_function = bias_corrected(function, plain, inputs)
    # Same float outputs, shifted by the measured offset only.
    shift = np.asarray(function(calibration[:1])["embedding"]) - np.asarray(
        corrected_function(calibration[:1])["embedding"]
    )
    reference = np.asarray(model(held_out))
    before = lite_outputs(plain, held_out) - reference
    np.testing.assert_allclose(
        shift[0], before.mean(0), atol=0.5 * np.abs(before.mean(0)).max()
    )
    corrected = convert(corrected_function, [model], "int8", inputs)
    after = lite_outputs(corrected, held_out) - reference
    # The mean error on held-out inputs shrinks; the spread around it stays.
    assert np.linalg.norm(after.mean(0)) < 0.5 * np.linalg.norm(before.mean(0))
    assert np.linalg.norm(before.mean(0)) > 0.2 * before.std(0).mean()
