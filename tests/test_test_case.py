"""Self-tests of `tests/test_case.py`: each helper passes, and can fail.

Each helper runs on a KerasHub object that is right, and on one broken the
way a vlpk class could be, where it must raise `AssertionError`.

The models are KerasHub's BERT classes built from configs (one layer, hidden
size 8, a 12-word vocabulary held in memory): no download.
"""

import os
import shutil

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from keras_hub.src.utils import preset_utils

from tests.test_case import (
    run_backbone_test,
    run_precision_test,
    run_preprocessor_test,
    run_preset_test,
    run_task_test,
)

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick"]
VOCABULARY += ["brown", "fox", "a", "cat", "sat"]
SEQUENCE_LENGTH = 6
SENTENCES = np.array(["the quick fox", "a cat sat", "the cat", "a quick brown fox"])
LABELS = np.array([0, 1, 1, 0])
BACKBONE_KWARGS = {
    "vocabulary_size": len(VOCABULARY),
    "num_layers": 1,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": SEQUENCE_LENGTH,
}
BACKBONE_SHAPES = {"sequence_output": (4, SEQUENCE_LENGTH, 8), "pooled_output": (4, 8)}
# The helper is under test here, not BERT's training step: tracing it with
# Adam costs about 8 s on 2 cores, an eager SGD step a fraction of that.
FAST_COMPILE = {"optimizer": "sgd", "run_eagerly": True}


def tiny_preprocessor():
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
    return keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=SEQUENCE_LENGTH
    )


def tiny_task_kwargs(backbone_cls=keras_hub.models.BertBackbone):
    return {
        "backbone": backbone_cls(**BACKBONE_KWARGS),
        "preprocessor": tiny_preprocessor(),
        "num_classes": 2,
    }


def token_inputs():
    return dict(tiny_preprocessor()(SENTENCES))


# Broken objects, one per helper. Registered so that configs and presets can
# name them, as a vlpk class would be. Registration is for the whole session,
# and KerasHub's `TextClassifier.from_preset` picks among the registered
# subclasses whose `backbone_cls` matches the preset: so none of these claims
# `BertBackbone`, or another test's BERT preset could load one of them.
@keras.saving.register_keras_serializable(package="vlpk_test_case")
class DriftingBackbone(keras_hub.models.BertBackbone):
    """Reports a different `intermediate_dim` from the one it was given."""

    def get_config(self):
        config = super().get_config()
        config["intermediate_dim"] += 1
        return config


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class TinyBackbone(keras_hub.models.Backbone):
    """Embedding and a dense head; `head_dtype` pins the head's dtype."""

    def __init__(self, vocabulary_size, hidden_dim, head_dtype=None, dtype=None, **kw):
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = keras.layers.Embedding(vocabulary_size, hidden_dim, dtype=dtype)(token_ids)
        x = keras.layers.Dense(hidden_dim, dtype=head_dtype or dtype, name="head")(x)
        super().__init__(inputs={"token_ids": token_ids}, outputs=x, dtype=dtype, **kw)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.head_dtype = head_dtype

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            head_dtype=self.head_dtype,
        )
        return config


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class EagerCleaningPreprocessor(keras_hub.models.BertTextClassifierPreprocessor):
    """Lowercases only when called eagerly: `tf.data` never sees the step."""

    backbone_cls = None

    def call(self, x, y=None, sample_weight=None):
        if tf.executing_eagerly():
            x = tf.strings.lower(x)
        return super().call(x, y, sample_weight)


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class PadToLongest(keras.layers.Layer):
    """Hashes words, padded to the longest sentence of each batch only."""

    def __init__(self, num_buckets, **kwargs):
        super().__init__(**kwargs)
        self.num_buckets = num_buckets

    def call(self, x):
        words = tf.strings.split(x)
        return tf.strings.to_hash_bucket_fast(words, self.num_buckets).to_tensor()

    def get_config(self):
        return {**super().get_config(), "num_buckets": self.num_buckets}


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class SkewedClassifier(keras_hub.models.BertTextClassifier):
    """Does more to raw data than `ds.map(preprocessor)` does."""

    backbone_cls = None

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if self.preprocessor is None:
            return super().preprocess_samples(x, y, sample_weight)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
            super().preprocess_samples(x, y, sample_weight)
        )
        x = {**x, "token_ids": tf.reverse(x["token_ids"], axis=[-1])}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class IsolatedBertBackbone(keras_hub.models.BertBackbone):
    """`BertBackbone` under another name, for a task loaded from a preset."""


@keras.saving.register_keras_serializable(package="vlpk_test_case")
class HeadNotSavedClassifier(keras_hub.models.BertTextClassifier):
    """Claims to have no weights of its own: its head is never saved."""

    backbone_cls = IsolatedBertBackbone

    def has_task_weights(self):
        return False


@pytest.fixture(scope="module")
def task_preset(tmp_path_factory):
    """A BERT classifier preset saved by KerasHub's `save_to_preset`."""
    path = str(tmp_path_factory.mktemp("bert_classifier"))
    keras_hub.models.BertTextClassifier(**tiny_task_kwargs()).save_to_preset(path)
    return path


def test_backbone_test_passes_on_a_keras_hub_backbone(tmp_path):
    outputs = run_backbone_test(
        keras_hub.models.BertBackbone,
        BACKBONE_KWARGS,
        token_inputs(),
        expected_output_shape=BACKBONE_SHAPES,
        tmp_path=tmp_path,
    )
    assert set(outputs) == set(BACKBONE_SHAPES)


def test_backbone_test_fails_when_the_config_does_not_round_trip():
    with pytest.raises(AssertionError, match="intermediate_dim"):
        run_backbone_test(DriftingBackbone, BACKBONE_KWARGS, token_inputs())


def test_backbone_test_fails_on_a_wrong_shape():
    shapes = {**BACKBONE_SHAPES, "pooled_output": (4, 9)}
    with pytest.raises(AssertionError, match="output shapes"):
        run_backbone_test(
            keras_hub.models.BertBackbone, BACKBONE_KWARGS, token_inputs(), shapes
        )


@pytest.mark.parametrize("global_policy", [False, True])
def test_precision_test_passes_and_restores_the_policy(global_policy):
    inputs = {"token_ids": np.array([[1, 2, 3]], "int32")}
    kwargs = {"vocabulary_size": 5, "hidden_dim": 4}
    run_precision_test(TinyBackbone, kwargs, inputs, global_policy=global_policy)
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("global_policy", [False, True])
def test_precision_test_fails_on_a_float32_layer_and_restores_the_policy(
    global_policy,
):
    inputs = {"token_ids": np.array([[1, 2, 3]], "int32")}
    kwargs = {"vocabulary_size": 5, "hidden_dim": 4, "head_dtype": "float32"}
    with pytest.raises(AssertionError, match="head"):
        run_precision_test(TinyBackbone, kwargs, inputs, global_policy=global_policy)
    assert keras.config.dtype_policy().name == "float32"


def test_preprocessor_test_passes_on_keras_hub_preprocessing():
    expected_x = {
        "token_ids": np.array([[2, 5, 6, 8, 3, 0]]),
        "padding_mask": np.array([[True] * 5 + [False]]),
        "segment_ids": np.zeros((1, SEQUENCE_LENGTH)),
    }
    run_preprocessor_test(
        keras_hub.models.BertTextClassifierPreprocessor,
        {"tokenizer": tiny_preprocessor().tokenizer, "sequence_length": 6},
        (SENTENCES[:1], LABELS[:1]),
        expected_output=(expected_x, LABELS[:1]),
    )
    # A built layer with ragged outputs (a tokenizer) goes through too.
    tokenizer = tiny_preprocessor().tokenizer
    tokens = run_preprocessor_test(
        tokenizer, None, SENTENCES, run_unbatched_check=False
    )
    assert tokens[0] == [5, 6, 8]  # ragged: KerasHub returns lists eagerly


def test_preprocessor_test_fails_when_direct_call_and_tf_data_disagree():
    shouting = np.array(["The Quick fox", "A cat sat"])
    with pytest.raises(AssertionError, match="batched tf.data"):
        run_preprocessor_test(
            EagerCleaningPreprocessor,
            {"tokenizer": tiny_preprocessor().tokenizer, "sequence_length": 6},
            shouting,
        )


def test_preprocessor_test_fails_when_batches_pad_differently():
    with pytest.raises(AssertionError, match="batches differ in shape"):
        run_preprocessor_test(PadToLongest, {"num_buckets": 10}, SENTENCES)


def test_task_test_passes_on_a_keras_hub_task():
    sample_weight = np.ones(4, "float32")
    predictions = run_task_test(
        keras_hub.models.BertTextClassifier,
        tiny_task_kwargs(),
        (SENTENCES, LABELS, sample_weight),
        expected_output_shape=(4, 2),
        compile_kwargs=FAST_COMPILE,
    )
    assert predictions.shape == (4, 2)


def test_task_test_fails_when_raw_and_preprocessed_predictions_differ():
    with pytest.raises(AssertionError, match="ds.map"):
        run_task_test(
            SkewedClassifier,
            tiny_task_kwargs(),
            (SENTENCES, LABELS),
            compile_kwargs=FAST_COMPILE,
        )


def test_preset_test_passes_for_backbone_preprocessor_and_task(task_preset, tmp_path):
    run_preset_test(
        keras_hub.models.BertBackbone,
        task_preset,
        token_inputs(),
        expected_output_shape=BACKBONE_SHAPES,
        tmp_path=tmp_path,
    )
    run_preset_test(
        keras_hub.models.BertTextClassifierPreprocessor,
        task_preset,
        SENTENCES,
        expected_output=token_inputs(),
        tmp_path=tmp_path,
    )
    run_preset_test(
        keras_hub.models.BertTextClassifier,
        task_preset,
        SENTENCES,
        expected_output_shape=(4, 2),
        tmp_path=tmp_path,
    )


def test_preset_test_fails_when_the_layout_lacks_a_file(task_preset, tmp_path):
    preset = str(tmp_path / "no_metadata")
    shutil.copytree(task_preset, preset)
    os.remove(os.path.join(preset, preset_utils.METADATA_FILE))
    with pytest.raises(AssertionError, match=preset_utils.METADATA_FILE):
        run_preset_test(keras_hub.models.BertBackbone, preset, token_inputs())


def test_preset_test_fails_when_a_task_does_not_reload_equal(tmp_path):
    preset = str(tmp_path / "head_not_saved")
    task = HeadNotSavedClassifier(**tiny_task_kwargs(IsolatedBertBackbone))
    task.save_to_preset(preset)
    with pytest.raises(AssertionError, match="outputs changed through a preset"):
        run_preset_test(HeadNotSavedClassifier, preset, SENTENCES, tmp_path=tmp_path)
