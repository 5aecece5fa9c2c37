"""The shared test helper that every vlpk layer, model and preset test uses.

It follows KerasHub's `keras_hub/src/tests/test_case.py`. The checks live in
`tests/case/`; import them from here.

`run_layer_test` and `run_model_test` (layers and functional models) check:

1. `get_config` / `from_config` round trip (the constructor is the config);
2. an eager call and a symbolic call, with the expected output shapes;
3. `.keras` save and reload with `safe_mode=True`, with equal outputs;
4. a one-step `fit`.

`run_backbone_test` checks a `keras_hub.models.Backbone`: 1 to 3 (configs
also through JSON), a compiled `predict` over `tf.data` equal to the eager
call, the default name, and `run_precision_test`: under `mixed_bfloat16`,
outputs and the layers owning weights compute in bfloat16 while variables
stay float32 (the global dtype policy is restored even on failure).

`run_preprocessor_test` checks a `keras_hub.models.Preprocessor` (or any
preprocessing layer): the config round trip, and that a direct call equals
the layer mapped over batched and unbatched `tf.data`.

`run_task_test` checks a `keras_hub.models.Task`: `predict` and a one-step
`fit` on raw data with the preprocessor, the same on `ds.map(preprocessor)`
without it, equal predictions both ways, and `compile=False`.

`run_preset_test` checks `from_preset`, KerasHub's preset layout
(`config.json`, `metadata.json`, `model.weights.h5`, `preprocessor.json`,
tokenizer assets, `task.json`), and a `save_to_preset` / `from_preset`
round trip with equal outputs.
"""

import os

import keras
import numpy as np

from tests.case.backbone import run_backbone_test, run_model_saving_test
from tests.case.common import (
    _check_shapes,
    _symbolic_inputs,
    _to_numpy,
    assert_allclose_tree,
    assert_same_data,
    run_json_config_test,
    run_serialization_test,
)
from tests.case.precision import restored_dtype_policy, run_precision_test
from tests.case.preprocessor import run_preprocessor_test
from tests.case.preset import (
    assert_preset_layout,
    expected_preset_files,
    run_preset_test,
)
from tests.case.task import run_task_test

__all__ = [
    "assert_allclose_tree",
    "assert_preset_layout",
    "assert_same_data",
    "expected_preset_files",
    "len_batch",
    "restored_dtype_policy",
    "run_backbone_test",
    "run_json_config_test",
    "run_layer_test",
    "run_model_saving_test",
    "run_model_test",
    "run_precision_test",
    "run_preprocessor_test",
    "run_preset_test",
    "run_serialization_test",
    "run_task_test",
]


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
