"""`DistributedTrainer` checkpoints every N steps and resumes at the same batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vlpk.distribution.trainer import DistributedTrainer
from vlpk.errors import InputError


def batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, {"out": y})).batch(4).repeat()


def trainer(seed=0):
    keras.utils.set_random_seed(seed)
    strategy = tf.distribute.get_strategy()
    inputs = keras.Input((4,))
    hidden = keras.layers.Dropout(0.3)(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, {"out": keras.layers.Dense(1)(hidden)})
    return DistributedTrainer(
        model, strategy, {"out": "mse"}, keras.optimizers.Adam(0.01)
    )


def weights(t):
    return [np.asarray(w) for w in t.model.get_weights()]


def test_resumed_run_ends_at_the_uninterrupted_weights(tmp_path):
    straight = trainer()
    history = straight.fit(batches(), steps=9, verbose=0)
    assert len(history["loss"]) == 9
    # Stopped after 6 steps, then a new process-like start (other random
    # initial weights: the checkpoint must overwrite all of them).
    first = trainer()
    first.fit(batches(), 6, verbose=0, checkpoint_dir=str(tmp_path), checkpoint_every=3)
    resumed = trainer(seed=5)
    history = resumed.fit(
        batches(), 9, verbose=0, checkpoint_dir=str(tmp_path), checkpoint_every=3
    )
    assert len(history["loss"]) == 3  # steps 7 to 9 only
    assert int(resumed.optimizer.iterations) == 9
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # Without skipping the consumed batches, the same resume ends elsewhere.
    rewound = trainer(seed=5)
    rewound.fit(
        batches(), 6, verbose=0, checkpoint_dir=str(tmp_path / "r"), checkpoint_every=3
    )
    rewound = trainer(seed=5)
    original = tf.data.Dataset.skip
    try:
        tf.data.Dataset.skip = lambda self, count, name=None: self
        rewound.fit(
            batches(),
            9,
            verbose=0,
            checkpoint_dir=str(tmp_path / "r"),
            checkpoint_every=3,
        )
    finally:
        tf.data.Dataset.skip = original
    assert not all(
        np.allclose(a, b, atol=1e-6)
        for a, b in zip(weights(straight), weights(rewound))
    )


def test_only_two_checkpoints_are_kept_and_bad_input_is_refused(tmp_path):
    t = trainer()
    t.fit(batches(), 8, verbose=0, checkpoint_dir=str(tmp_path), checkpoint_every=2)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == ["6", "8"]
    # A distributed dataset (here, any iterable) cannot be rewound.
    with pytest.raises(InputError, match="already-distributed"):
        trainer().fit(
            [None] * 9, 9, verbose=0, checkpoint_dir=str(tmp_path), checkpoint_every=2
        )
