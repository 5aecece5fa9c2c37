"""The backbone checks, after KerasHub's `run_backbone_test`."""

import os
import re

import keras
import numpy as np
import tensorflow as tf

from tests.case.common import (
    _check_shapes,
    _symbolic_inputs,
    _to_numpy,
    assert_allclose_tree,
    run_json_config_test,
    temp_dir,
)
from tests.case.precision import run_precision_test


def _snake_case(name):
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def run_model_saving_test(
    cls, init_kwargs, input_data, tmp_path=None, atol=1e-5, rtol=1e-5
):
    """Saves a model to `.keras` and reloads it with `safe_mode=True`.

    Args:
        cls: the model class.
        init_kwargs: dict of constructor arguments.
        input_data: a batch to call the model on.
        tmp_path: a folder to save under; a temporary one when None.
        atol: absolute tolerance on the outputs.
        rtol: relative tolerance on the outputs.
    Returns:
        The reloaded model, of class `cls`, whose outputs equal the original's.
    """
    model = cls(**init_kwargs)
    outputs = model(input_data)
    with temp_dir(tmp_path, "saving") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored, cls), type(restored)
    assert_allclose_tree(outputs, restored(input_data), atol=atol, rtol=rtol)
    return restored


def run_backbone_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape=None,
    run_mixed_precision_check=True,
    float32_names=(),
    variable_length_data=None,
    tmp_path=None,
):
    """Runs every standard check on a `keras_hub.models.Backbone` subclass.

    Checks the config round trip (also through JSON), an eager and a symbolic
    call with the expected output shapes, a compiled `predict` over `tf.data`
    equal to the eager call, the default name, `.keras` save/reload with
    `safe_mode=True`, and the `mixed_bfloat16` dtypes.

    Args:
        cls: the backbone class.
        init_kwargs: dict of constructor arguments.
        input_data: a batch of named inputs (dict of arrays).
        expected_output_shape: the output shape, or a dict of shapes for dict
            outputs, batch dimension included.
        run_mixed_precision_check: whether to run `run_precision_test`.
        float32_names: layers and outputs that compute in float32 on purpose
            (see `run_precision_test`).
        variable_length_data: optional list of batches of other sequence
            lengths that the backbone must also accept.
        tmp_path: a folder for the `.keras` file; a temporary one when None.
    Returns:
        The eager outputs.
    """
    backbone = cls(**init_kwargs)
    run_json_config_test(backbone)

    outputs = backbone(input_data)
    _check_shapes(outputs, expected_output_shape)
    symbolic_outputs = backbone(_symbolic_inputs(input_data))
    _check_shapes(symbolic_outputs, expected_output_shape, batch="symbolic")

    # The compiled path, fed by tf.data as in training, gives the eager result.
    batch_size = int(np.shape(keras.tree.flatten(input_data)[0])[0])
    dataset = tf.data.Dataset.from_tensor_slices(_to_numpy(input_data))
    predicted = backbone.predict(dataset.batch(batch_size), verbose=0)
    assert_allclose_tree(outputs, predicted, atol=1e-5)

    for batch in variable_length_data or ():
        backbone(batch)
    if "name" not in init_kwargs:
        # KerasHub names a model after its class: `bert_backbone`, ...
        name = _snake_case(cls.__name__)
        assert re.search(name, backbone.name), (backbone.name, name)

    run_model_saving_test(cls, init_kwargs, input_data, tmp_path=tmp_path)
    if run_mixed_precision_check:
        run_precision_test(cls, init_kwargs, input_data, float32_names=float32_names)
    return outputs
