"""The mixed-precision check, after KerasHub's `run_precision_test`."""

import contextlib

import keras

from tests.case.common import call_layer

# Layers that KerasHub's check leaves out: they hold no weights and may run in
# float32 on purpose (a softmax over logits).
_EXEMPT_LAYERS = (keras.layers.Softmax, keras.layers.InputLayer)


@contextlib.contextmanager
def restored_dtype_policy():
    """Puts the global dtype policy back on exit, even when a check failed."""
    previous = keras.config.dtype_policy()
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _is_float(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("float", "bfloat"))


def _rebuilt_under(init_kwargs, dtype):
    """Rebuilds the layers passed as arguments (encoders) with `dtype`.

    They were built float32 by the caller; like KerasHub, rebuild them from
    their config. `dtype=None` lets them take the global policy.
    """
    kwargs = dict(init_kwargs)
    for key, value in init_kwargs.items():
        if isinstance(value, keras.Layer):
            config = _with_dtype(value.get_config(), dtype)
            kwargs[key] = value.__class__.from_config(config)
    return kwargs


def _with_dtype(config, dtype):
    """`config` with `dtype` set on it and on every layer config nested in it.

    vlpk's encoders wrap whole Keras models (a `small_cnn`, a KerasHub
    backbone), whose serialized layers each pin the policy they were built
    under; KerasHub's layers take their parent's instead, so KerasHub's
    helper sets the top level only.
    """
    policy = None if dtype is None else keras.dtype_policies.serialize(dtype)

    def visit(node):
        if isinstance(node, dict):
            node = {k: visit(v) for k, v in node.items()}
            if "dtype" in node and _is_policy(node["dtype"]):
                node["dtype"] = policy
            return node
        if isinstance(node, list):
            return [visit(v) for v in node]
        return node

    config = visit(config)
    config["dtype"] = dtype
    return config


def _is_policy(value):
    # A serialized `DTypePolicy`; an input layer's `dtype` is a tensor dtype.
    return isinstance(value, dict) and "Policy" in str(value.get("class_name", ""))


def _owns_float_weights(layer):
    own = layer._trainable_variables + layer._non_trainable_variables
    return any(_is_float(v.dtype) for v in own)


def _assert_policy(model, outputs, output_spec, policy, float32_names=()):
    # Layers first: their message names the culprit, the outputs' does not.
    for layer in model._flatten_layers():
        if isinstance(layer, _EXEMPT_LAYERS) or not _owns_float_weights(layer):
            continue
        expected = "float32" if layer.name in float32_names else policy.compute_dtype
        assert layer.compute_dtype == expected, (
            f"{policy.name}: layer {layer.name!r} computes in {layer.compute_dtype}"
        )
        assert layer.variable_dtype == policy.variable_dtype, (
            f"{policy.name}: layer {layer.name!r} stores {layer.variable_dtype}"
        )
    for weight in model.weights:
        if _is_float(weight.dtype):
            assert weight.dtype == policy.variable_dtype, (
                f"{policy.name}: {weight.path} is stored as {weight.dtype}"
            )
    # Keras's functional `compute_output_spec` gives a float32 output the
    # model's compute dtype; the eager outputs say what the model returns.
    specs = [(n, x) for n, x in _named_outputs(output_spec) if n not in float32_names]
    for name, x in _named_outputs(outputs) + specs:
        if _is_float(x.dtype):
            actual = keras.backend.standardize_dtype(x.dtype)
            expected = "float32" if name in float32_names else policy.compute_dtype
            assert actual == expected, (
                f"{policy.name}: output {name!r} is {actual}, not {expected}"
            )


def _named_outputs(outputs):
    if isinstance(outputs, dict):
        return [(name, x) for name, x in outputs.items()]
    return [("output", x) for x in keras.tree.flatten(outputs)]


def run_precision_test(
    cls,
    init_kwargs,
    input_data,
    policies=("mixed_bfloat16",),
    global_policy=False,
    float32_names=(),
):
    """Builds the model under each dtype policy and checks its dtypes.

    Under `mixed_bfloat16`, float outputs (eager and `compute_output_spec`)
    must be bfloat16, every layer owning float weights must compute in
    bfloat16, and every float variable must stay float32. The global dtype
    policy is restored afterwards, even when a check fails.

    Args:
        cls: the model (or layer) class.
        init_kwargs: dict of constructor arguments. Layers among them are
            rebuilt from their config under the policy, as KerasHub does.
        input_data: a batch to call the model on.
        policies: the policy names to check.
        global_policy: if True, build under `keras.config.set_dtype_policy`
            without a `dtype` argument (the `set_global_policy` user path);
            by default pass `dtype=policy`, which also catches a sublayer that
            is not handed the model's dtype.
        float32_names: layers and outputs that compute in float32 on purpose
            (logits heads): they must be float32. Outputs are named by their
            dict key, a model's single output `"output"`.
    """
    for name in policies:
        policy = keras.dtype_policies.get(name)
        with restored_dtype_policy():
            if global_policy:
                keras.config.set_dtype_policy(policy)
                model = cls(**_rebuilt_under(init_kwargs, None))
            else:
                model = cls(**{**_rebuilt_under(init_kwargs, policy), "dtype": policy})
            outputs = call_layer(model, input_data)
            output_spec = call_layer(model.compute_output_spec, _specs(input_data))
            _assert_policy(model, outputs, output_spec, policy, float32_names)


def _specs(input_data):
    """Symbolic stand-ins for `input_data`, as Keras's own shape inference
    passes them (a layer's `compute_output_shape` gets shapes, not arrays)."""

    def spec(x):
        x = keras.ops.convert_to_tensor(x)
        return keras.KerasTensor(x.shape, dtype=x.dtype)

    return keras.tree.map_structure(spec, input_data)
