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
            config = value.get_config()
            config["dtype"] = dtype
            kwargs[key] = value.__class__.from_config(config)
    return kwargs


def _owns_float_weights(layer):
    own = layer._trainable_variables + layer._non_trainable_variables
    return any(_is_float(v.dtype) for v in own)


def _assert_policy(model, outputs, output_spec, policy):
    # Layers first: their message names the culprit, the outputs' does not.
    for layer in model._flatten_layers():
        if isinstance(layer, _EXEMPT_LAYERS) or not _owns_float_weights(layer):
            continue
        assert layer.compute_dtype == policy.compute_dtype, (
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
    for x in keras.tree.flatten(outputs) + keras.tree.flatten(output_spec):
        if _is_float(x.dtype):
            actual = keras.backend.standardize_dtype(x.dtype)
            assert actual == policy.compute_dtype, (
                f"{policy.name}: an output is {actual}, not {policy.compute_dtype}"
            )


def run_precision_test(
    cls, init_kwargs, input_data, policies=("mixed_bfloat16",), global_policy=False
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
            output_spec = call_layer(model.compute_output_spec, input_data)
            _assert_policy(model, outputs, output_spec, policy)
