"""The task checks, after KerasHub's `run_task_test`.

A task is used two ways: with its preprocessor, on raw data (`fit` on
strings and images), and without it, on data preprocessed in `tf.data`
(`ds.map(preprocessor)`). Both must predict the same and both must train.
"""

import keras
import numpy as np
import tensorflow as tf

from tests.case.common import (
    _check_shapes,
    assert_allclose_tree,
    call_layer,
    run_json_config_test,
)


def _build(cls, init_kwargs, compile_kwargs):
    task = cls(**init_kwargs)
    if compile_kwargs:
        task.compile(**compile_kwargs)
    return task


def _fit_one_step(task, *args, **kwargs):
    """One step of `fit`: the loss is finite and some weight changed."""
    before = [np.array(w) for w in task.trainable_weights]
    history = task.fit(
        *args, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0, **kwargs
    )
    loss = history.history["loss"][0]
    assert np.isfinite(loss), f"one step of fit gave the loss {loss}"
    after = [np.array(w) for w in task.trainable_weights]
    changed = any(not np.allclose(b, a) for b, a in zip(before, after))
    assert changed or not before, "one step of fit changed no trainable weight"


def _check_input_structure(task, preprocessor, train_data):
    """The preprocessor's `x` has the structure the model's inputs have."""
    inputs_struct = getattr(task, "_inputs_struct", None)
    if inputs_struct is None:
        return  # not a functional task
    x = keras.utils.unpack_x_y_sample_weight(call_layer(preprocessor, train_data))[0]
    try:
        keras.tree.assert_same_structure(x, inputs_struct, check_types=False)
    except (ValueError, TypeError) as error:
        raise AssertionError(f"preprocessor output != model inputs: {error}") from error


def _check_without_preprocessor(task, train_data, output, batch_size):
    """Predicts and fits on `ds.map(preprocessor)` with preprocessing off."""
    preprocessor = task.preprocessor
    dataset = tf.data.Dataset.from_tensor_slices(train_data).batch(batch_size)
    preprocessed = dataset.map(preprocessor)
    # As KerasHub (and its `Task` docs): `task.preprocessor = None` turns the
    # task's own preprocessing off, keeping the same weights.
    task.preprocessor = None
    try:
        split_output = task.predict(preprocessed, verbose=0)
        try:
            assert_allclose_tree(output, split_output, atol=1e-5)
        except AssertionError as error:
            raise AssertionError(
                f"predictions on raw data and on ds.map(preprocessor) differ: {error}"
            ) from error
        _fit_one_step(task, preprocessed)
    finally:
        task.preprocessor = preprocessor


def _check_compile_false(cls, init_kwargs):
    """`compile=False` leaves the task uncompiled, which `fit` refuses."""
    task = cls(**{**init_kwargs, "compile": False})
    # What `fit` checks first; calling `fit` would also trace preprocessing.
    assert not task.compiled, "a task built with compile=False is compiled"


def run_task_test(
    cls,
    init_kwargs,
    train_data,
    expected_output_shape=None,
    batch_size=2,
    compile_kwargs=None,
):
    """Runs every standard check on a `keras_hub.models.Task` subclass.

    Checks the config round trip (also through JSON); with the preprocessor,
    `predict` on the raw inputs (with the expected output shape) and a
    one-step `fit` on the raw `(x, y, sample_weight)`; when `init_kwargs` has
    a preprocessor, that its output has the model's input structure, and,
    with preprocessing turned off, that `predict` on `ds.map(preprocessor)`
    gives the same predictions and that `fit` on it trains; that the task
    builds with `preprocessor=None`; and that `compile=False` is honoured.

    Args:
        cls: the task class.
        init_kwargs: dict of constructor arguments (`backbone`, and usually
            `preprocessor`).
        train_data: raw training data: `x`, `(x, y)` or `(x, y,
            sample_weight)`, as `fit` takes it; preprocessed data when
            `init_kwargs` has no preprocessor.
        expected_output_shape: the shape of `predict`'s output (a dict of
            shapes for dict outputs), batch dimension included.
        batch_size: the batch size of `predict`, `fit` and `tf.data`.
        compile_kwargs: if given, `task.compile(**compile_kwargs)` replaces
            the task's default compilation (e.g. a cheaper optimizer).
    Returns:
        The predictions on the raw inputs.
    """
    task = _build(cls, init_kwargs, compile_kwargs)
    run_json_config_test(task)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(train_data)

    output = task.predict(x, batch_size=batch_size, verbose=0)
    _check_shapes(output, expected_output_shape)
    if init_kwargs.get("preprocessor") is not None:
        _check_input_structure(task, task.preprocessor, train_data)
        _check_without_preprocessor(task, train_data, output, batch_size)
        bare = cls(**{**init_kwargs, "preprocessor": None})
        assert bare.preprocessor is None, bare.preprocessor

    _fit_one_step(task, x, y, sample_weight=sample_weight, batch_size=batch_size)
    _check_compile_false(cls, init_kwargs)
    return output
