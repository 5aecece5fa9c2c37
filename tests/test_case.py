"""The shared test helper that every vlpk layer and model test goes through.

It checks, in the KerasHub manner:

1. `get_config` / `from_config` round trip (the constructor is the config);
2. an eager call and a symbolic call, with the expected output shapes;
3. `.keras` save and reload with `safe_mode=True`, with equal outputs;
4. a one-step `fit`.
"""

import copy
import os

import keras
import numpy as np
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
    a, b = _to_numpy(a), _to_numpy(b)
    keras.tree.assert_same_structure(a, b)
    for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
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


def _save_and_reload(model, tmp_path, input_data, outputs):
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert_allclose_tree(outputs, restored(input_data, training=False), atol=1e-4)
    return restored


def _one_step_fit(model, input_data, outputs, loss=None, y=None):
    """Fits one step; at least one trainable weight must change."""
    if loss is None:
        loss = keras.tree.map_structure(lambda _: "mse", outputs)
        # Random targets, not zeros: an L2-normalized output has a constant
        # squared norm, so MSE against zeros would have no gradient.
        rng = np.random.default_rng(0)
        y = keras.tree.map_structure(
            lambda o: rng.normal(size=o.shape).astype("float32"), _to_numpy(outputs)
        )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(
        input_data, y, batch_size=len_batch(input_data), epochs=1, verbose=0
    )
    loss_value = history.history["loss"][0]
    assert np.isfinite(loss_value), loss_value
    after = [np.array(w) for w in model.trainable_weights]
    if before:
        changed = any(not np.allclose(b, a) for b, a in zip(before, after))
        assert changed, "one step of fit changed no trainable weight"
    return loss_value


def len_batch(input_data):
    return int(np.asarray(keras.tree.flatten(input_data)[0]).shape[0])


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    tmp_path,
    expected_output_shape=None,
    run_training=True,
):
    """Runs every standard check on a layer.

    Args:
        cls: the layer class.
        init_kwargs: dict of constructor arguments.
        input_data: a batch (array, or dict/list of arrays) to call the layer on.
        tmp_path: a temporary directory (pytest's `tmp_path`).
        expected_output_shape: the output shape(s), batch dimension included.
        run_training: whether to run a one-step `fit`.
    Returns:
        The eager outputs.
    """
    layer = cls(**init_kwargs)
    run_serialization_test(layer)

    outputs = layer(input_data)
    _check_shapes(outputs, expected_output_shape)

    inputs = _symbolic_inputs(input_data)
    symbolic_layer = cls(**init_kwargs)
    symbolic_outputs = symbolic_layer(inputs)
    _check_shapes(symbolic_outputs, expected_output_shape, batch="symbolic")

    model = keras.Model(inputs, symbolic_outputs)
    model_outputs = model(input_data)
    _save_and_reload(model, tmp_path, input_data, model_outputs)
    if run_training:
        _one_step_fit(model, input_data, model_outputs)
    return outputs


def run_model_test(
    model,
    input_data,
    tmp_path,
    expected_output_shape=None,
    loss=None,
    y=None,
    run_training=True,
):
    """Runs every standard check on a (functional subclass) model.

    Args:
        model: the model instance.
        input_data: a batch of named inputs.
        tmp_path: a temporary directory.
        expected_output_shape: dict of output shapes, batch included.
        loss: the loss to compile with for the `fit` step. Defaults to MSE
            against zeros on every output; a loss whose targets come from the
            model itself (contrastive) is passed with its own `y`.
        y: the targets for `loss`.
        run_training: whether to run a one-step `fit`.
    Returns:
        The eager outputs.
    """
    run_serialization_test(model)
    outputs = model(input_data, training=False)
    _check_shapes(outputs, expected_output_shape)
    symbolic = model(_symbolic_inputs(input_data))
    _check_shapes(symbolic, expected_output_shape, batch="symbolic")
    _save_and_reload(model, tmp_path, input_data, outputs)
    if run_training:
        _one_step_fit(model, input_data, outputs, loss=loss, y=y)
    return outputs
