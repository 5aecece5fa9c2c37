"""Comparisons, shapes, configs and calls shared by every check of the helper."""

import contextlib
import copy
import json
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops


def _to_numpy(tree):
    return keras.tree.map_structure(lambda x: ops.convert_to_numpy(x), tree)


def _symbolic_inputs(input_data):
    def make(x, name=None):
        x = np.asarray(x)
        return keras.Input(shape=x.shape[1:], dtype=str(x.dtype), name=name)

    if isinstance(input_data, dict):
        # Named like their keys, as functional models expect.
        return {k: make(v, name=k) for k, v in input_data.items()}
    return keras.tree.map_structure(make, input_data)


def assert_allclose_tree(a, b, atol=1e-5, rtol=1e-5):
    """Asserts two structures of numeric tensors or arrays are close.

    Args:
        a: a structure (dict, list, tuple) of tensors or arrays.
        b: the same structure.
        atol: absolute tolerance.
        rtol: relative tolerance.
    """
    a, b = _to_numpy(a), _to_numpy(b)
    keras.tree.assert_same_structure(a, b)
    for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
        np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)


def _skeleton(x):
    """`(structure, leaves)`, where only dicts and tuples are structure.

    This is `tf.data`'s convention: a list is data (KerasHub's eager
    preprocessing returns ragged token ids as lists of lists).
    """
    if isinstance(x, dict):
        parts = {k: _skeleton(x[k]) for k in sorted(x)}
        structure = {k: p[0] for k, p in parts.items()}
        return structure, [leaf for p in parts.values() for leaf in p[1]]
    if isinstance(x, tuple):
        parts = [_skeleton(v) for v in x]
        return tuple(p[0] for p in parts), [leaf for p in parts for leaf in p[1]]
    return "leaf", [x]


def _decoded(x):
    if isinstance(x, bytes):
        return x.decode("utf-8")
    if isinstance(x, list):
        return [_decoded(v) for v in x]
    return x


def _plain(x):
    """A leaf as a NumPy array, or as nested lists when ragged or a list."""
    if isinstance(x, tf.RaggedTensor):
        return _decoded(x.to_list())
    if isinstance(x, list):
        return _decoded(x)
    if isinstance(x, tf.Tensor):
        x = x.numpy()  # also for strings, which Keras ops do not take
    x = np.asarray(ops.convert_to_numpy(x))
    return _decoded(x.tolist()) if x.dtype.kind in "OSU" else x


def assert_same_data(a, b, atol=1e-5, rtol=1e-5):
    """Like `assert_allclose_tree`, for preprocessing outputs.

    Only dicts and tuples are structure, as in `tf.data`. Leaves may be
    tensors, arrays, ragged tensors or nested lists (compared as lists,
    exactly) or strings (bytes and str compare equal); `None` leaves, as in
    `(x, None, None)`, must match.

    Args:
        a: a structure (dict, tuple) of leaves.
        b: the same structure.
        atol: absolute tolerance for float leaves.
        rtol: relative tolerance for float leaves.
    """
    (structure_a, leaves_a), (structure_b, leaves_b) = _skeleton(a), _skeleton(b)
    assert structure_a == structure_b, f"structures {structure_a} != {structure_b}"
    for x, y in zip(leaves_a, leaves_b):
        if x is None or y is None:
            assert x is None and y is None, (x, y)
            continue
        x, y = _plain(x), _plain(y)
        if isinstance(x, list) or isinstance(y, list):
            x = x.tolist() if isinstance(x, np.ndarray) else x
            y = y.tolist() if isinstance(y, np.ndarray) else y
            np.testing.assert_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)


def run_serialization_test(obj):
    """Config round trip: `from_config(get_config())` rebuilds an equal config."""
    config = obj.get_config()
    # `Functional.from_config` consumes nested configs in place: pass a copy.
    revived = obj.__class__.from_config(copy.deepcopy(config))
    assert revived.get_config() == config, (revived.get_config(), config)
    serialized = keras.saving.serialize_keras_object(obj)
    revived = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    assert revived.__class__ is obj.__class__
    return revived


def run_json_config_test(obj):
    """`run_serialization_test`, then the same through JSON text.

    Presets and `.keras` files store configs as JSON: a tuple comes back a
    list, a NumPy scalar does not serialize at all. KerasHub compares the
    JSON texts, so that is what is compared here.

    Args:
        obj: a layer or model instance.
    Returns:
        The object revived from the JSON text.
    """
    run_serialization_test(obj)
    text = json.dumps(keras.saving.serialize_keras_object(obj), sort_keys=True)
    revived = keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)
    assert revived.__class__ is obj.__class__, revived.__class__
    config_text = json.dumps(obj.get_config(), sort_keys=True)
    revived_text = json.dumps(revived.get_config(), sort_keys=True)
    assert revived_text == config_text, (revived_text, config_text)
    return revived


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in x
    )


def _normalize_shapes(expected, batch=None):
    """Maps a shape, or a dict/list of shapes, to tuples (batch optional)."""
    if _is_shape(expected) or hasattr(expected, "as_list"):
        shape = tuple(expected.as_list() if hasattr(expected, "as_list") else expected)
        if batch is None:
            return shape
        return (None,) + shape[1:]  # symbolic: the batch dimension is unknown
    if isinstance(expected, dict):
        return {k: _normalize_shapes(v, batch) for k, v in expected.items()}
    return type(expected)(_normalize_shapes(v, batch) for v in expected)


def _shapes_tree(tree):
    if isinstance(tree, dict):
        return {k: _shapes_tree(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_shapes_tree(v) for v in tree)
    return tuple(tree.shape)


def _check_shapes(outputs, expected_output_shape, batch=None):
    if expected_output_shape is None:
        return
    actual = _shapes_tree(outputs)
    expected = _normalize_shapes(expected_output_shape, batch)
    assert actual == expected, f"output shapes {actual} != expected {expected}"


def call_layer(layer, input_data):
    """Calls `layer` (or a method) as `tf.data` would: a tuple is unpacked."""
    if isinstance(input_data, tuple):
        return layer(*input_data)
    return layer(input_data)


@contextlib.contextmanager
def temp_dir(tmp_path=None, name="case"):
    """A fresh folder under `tmp_path` when given, else a temporary one."""
    if tmp_path is not None:
        yield tempfile.mkdtemp(prefix=f"{name}_", dir=str(tmp_path))
        return
    with tempfile.TemporaryDirectory(prefix=f"{name}_") as path:
        yield path
