"""Percentile activation ranges for int8 calibration."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils

from vlpk.export.int8_ranges import _central_range, percentile_ranges


def test_central_range_of_a_histogram():
    # 10,000 values spread evenly over [0, 100), one bin each hundredth.
    counts = np.full(100, 100)
    low, high = _central_range(counts, 0.0, 100.0, 98.0)
    assert (low, high) == (1.0, 99.0)
    assert _central_range(counts, 0.0, 100.0, 100.0) == (0.0, 100.0)


def calibrated(tmp_path, samples):
    class Square(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32, "x")])
        def serve(self, x):
            return {"y": tf.nn.relu(x) * 2.0 + 1.0}

    module = Square()
    tf.saved_model.save(module, str(tmp_path), signatures=module.serve)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for sample in samples:
            yield {"x": sample[None]}

    converter.representative_dataset = representative
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter)
    return debugger.calibrated_model, representative


def ranges(flatbuffer):
    graph = flatbuffer_utils.read_model_from_bytearray(flatbuffer).subgraphs[0]
    out = {}
    for tensor in graph.tensors:
        q = tensor.quantization
        if q is not None and q.min is not None and len(q.min) == 1:
            out[tensor.name.decode()] = (float(q.min[0]), float(q.max[0]))
    return out, graph


def test_an_outlier_no_longer_sets_the_range(tmp_path):
    rng = np.random.default_rng(0)
    samples = [rng.uniform(0, 1, 64).astype(np.float32) for _ in range(50)]
    samples[7][3] = 1000.0  # one value in 3,200
    model, representative = calibrated(tmp_path, samples)
    before, graph = ranges(model)
    after, _ = ranges(percentile_ranges(model, representative, 99.9))
    input_name = graph.tensors[graph.inputs[0]].name.decode()
    # The model input keeps its full calibrated range.
    assert after[input_name] == before[input_name] and before[input_name][1] == 1000
    narrowed = [name for name in before if name != input_name]
    assert narrowed
    for name in narrowed:
        assert before[name][1] >= 1000  # min / max: the outlier sets it
        assert after[name][1] < 5  # the percentile: the uniform values do
        assert after[name][0] <= 0 <= after[name][1]
    assert percentile_ranges(model, representative, 100) == model
    with pytest.raises(ValueError, match="percentile"):
        percentile_ranges(model, representative, 10)
