"""The preprocessor checks, after KerasHub's `run_preprocessor_test`.

A preprocessor is called directly when serving and mapped over `tf.data` when
training; the two must agree, or training and serving see different inputs.
"""

import keras
import tensorflow as tf

from tests.case.common import assert_same_data, call_layer, run_json_config_test


def _concat(batches):
    """Joins the batches a dataset gave back into one batch."""

    def join(*leaves):
        if leaves[0] is None:
            return None
        try:
            return tf.concat(leaves, axis=0)
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            # e.g. padding to the longest sequence of each batch.
            raise AssertionError(f"batches differ in shape: {error}") from error

    return tf.nest.map_structure(join, *batches)


def _assert_agree(direct, other, how):
    try:
        assert_same_data(direct, other)
    except AssertionError as error:
        raise AssertionError(f"direct call and {how} disagree: {error}") from error


def _check_sequence_length(layer, output, token_id_key):
    x = output[0] if isinstance(output, tuple) else output
    length = getattr(layer, "sequence_length", None)
    if length is None or not isinstance(x, dict) or token_id_key not in x:
        return
    actual = x[token_id_key].shape[-1]
    assert actual == length, f"{token_id_key} has length {actual}, not {length}"


def run_preprocessor_test(
    cls_or_layer,
    init_kwargs,
    input_data,
    expected_output=None,
    batch_size=2,
    run_unbatched_check=True,
    token_id_key="token_ids",
):
    """Runs every standard check on a preprocessing layer.

    Checks the config round trip (also through JSON); that calling the layer
    directly gives the same batch as mapping it over batched `tf.data`
    (several batches of `batch_size`, so a layer that pads to the longest
    sequence of each batch fails) and over unbatched `tf.data`; that
    `token_ids`, when there are any, are `sequence_length` long; and the
    expected output.

    Args:
        cls_or_layer: the layer class, or a built layer.
        init_kwargs: dict of constructor arguments for a class; ignored (may
            be None) for a layer.
        input_data: the raw inputs: an array, a dict, or an `(x, y)` /
            `(x, y, sample_weight)` tuple, unpacked into arguments as
            `tf.data` does.
        expected_output: the expected direct-call output, if given.
        batch_size: the batch size of the batched `tf.data` run.
        run_unbatched_check: whether the layer also takes single examples
            (`ds.map(layer)` before batching). KerasHub preprocessors do.
        token_id_key: the output key holding token ids.
    Returns:
        The direct-call output.
    """
    layer = cls_or_layer
    if not isinstance(layer, keras.Layer):
        layer = cls_or_layer(**init_kwargs)
    run_json_config_test(layer)

    output = call_layer(layer, input_data)
    dataset = tf.data.Dataset.from_tensor_slices(input_data)
    batched = _concat(list(dataset.batch(batch_size).map(layer)))
    _assert_agree(output, batched, "batched tf.data")
    if run_unbatched_check:
        unbatched = _concat(list(dataset.map(layer).ragged_batch(batch_size)))
        _assert_agree(output, unbatched, "unbatched tf.data")

    _check_sequence_length(layer, output, token_id_key)
    if expected_output is not None:
        assert_same_data(output, expected_output)
    return output
