"""Training that resumes after a crash at the same position in the data.

Keras's `BackupAndRestore` restores the weights, the optimizer and the epoch,
but not the position inside the data. vlpk makes the position a function of
the step: the input is one deterministic, endless stream of batches (seeded
shuffles, order-preserving maps), and `fit` runs it in *chunks* of
`checkpoint_every` steps, each chunk a Keras "epoch" after which
`BackupAndRestore` writes a checkpoint. On restart the restored chunk index
says how many batches were consumed, and the stream skips exactly those. A
`kill -9` loses at most one checkpoint interval.

Keras 3.15's `save_weights` does not store the states of `SeedGenerator`s
(dropout's random streams): a resumed run would draw different dropout masks.
`SeedStateCheckpoint` saves them next to the weights after every chunk.
"""

import os
import warnings

import keras
import numpy as np


def _seed_states(model):
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class SeedStateCheckpoint(keras.callbacks.Callback):
    """Saves and restores the model's dropout RNG states with each chunk.

    Args:
        path: the `.npz` file to write (atomically) after every epoch/chunk.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def restore(self, model, chunk):
        """Loads the states saved at `chunk`; warns if the file is older."""
        if chunk == 0 or not os.path.exists(self.path):
            return
        saved = np.load(self.path)
        if int(saved["chunk"]) != chunk:
            warnings.warn(
                f"{self.path} is from chunk {int(saved['chunk'])}, the weights "
                f"from chunk {chunk}: dropout will not replay exactly."
            )
            return
        for index, variable in enumerate(_seed_states(model)):
            variable.assign(saved[f"state_{index}"])

    def on_epoch_end(self, epoch, logs=None):
        states = {
            f"state_{i}": np.asarray(v) for i, v in enumerate(_seed_states(self.model))
        }
        tmp = f"{self.path}.tmp.npz"
        np.savez(tmp, chunk=epoch + 1, **states)
        os.replace(tmp, self.path)


def fit_resumable(
    model,
    dataset_fn,
    total_steps,
    checkpoint_every,
    backup_dir,
    callbacks=(),
    **fit_kwargs,
):
    """`model.fit` for `total_steps`, checkpointing every `checkpoint_every`.

    Run the same call again after a crash and it continues from the last
    checkpoint, at the same batch, and ends with the same weights as an
    uninterrupted run (with deterministic ops).

    Args:
        model: a compiled Keras model.
        dataset_fn: a function returning the endless, deterministic
            `tf.data.Dataset` of batches (for example
            `contrastive_dataset(..., repeat=True)`), the same on every call.
        total_steps: the number of training steps of the whole run.
        checkpoint_every: steps between checkpoints (one Keras "epoch").
        backup_dir: where the checkpoint lives; kept after training ends.
        callbacks: more callbacks; they see one "epoch" per chunk.
        **fit_kwargs: passed to `fit` (e.g. `verbose`).

    Returns:
        The `History` of this (possibly resumed) call. When `total_steps` is
        not a multiple of `checkpoint_every`, the last chunk is shorter.

    Example:
    >>> import tempfile, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> batches = lambda: tf.data.Dataset.from_tensors(  # endless, deterministic
    ...     (tf.ones((2, 1)), tf.ones((2, 1)))).repeat()
    >>> backup = tempfile.mkdtemp()
    >>> history = fit_resumable(model, batches, total_steps=5, checkpoint_every=2,
    ...                         backup_dir=backup, verbose=0)
    >>> history.epoch  # two chunks of 2 steps, then the last step
    [0, 1, 2]
    >>> fit_resumable(model, batches, 5, 2, backup, verbose=0).epoch  # all done
    []

    After a crash, the same call continues from the last checkpoint.
    """
    if checkpoint_every <= 0 or total_steps <= 0:
        raise ValueError("total_steps and checkpoint_every must be positive.")
    backup = keras.callbacks.BackupAndRestore(
        backup_dir, save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
    )
    # Restore now, before building the input, to learn how far the data went.
    # (`fit` restores again: loading the same checkpoint twice is harmless.)
    backup.set_model(model)
    backup.on_train_begin()
    done_chunks = int(model._initial_epoch or 0)
    seeds = SeedStateCheckpoint(os.path.join(backup_dir, "seed_states.npz"))
    seeds.restore(model, done_chunks)
    full_chunks, rest = divmod(total_steps, checkpoint_every)
    callbacks = [backup, seeds, *callbacks]
    history = None
    if done_chunks < full_chunks:
        dataset = dataset_fn().skip(done_chunks * checkpoint_every)
        history = model.fit(
            dataset,
            epochs=full_chunks,
            steps_per_epoch=checkpoint_every,
            callbacks=callbacks,
            **fit_kwargs,
        )
    if rest:
        # The last, shorter chunk: a second `fit` whose one "epoch" has the
        # remaining steps, so the run trains exactly `total_steps`.
        dataset = dataset_fn().skip(full_chunks * checkpoint_every)
        tail = model.fit(
            dataset,
            epochs=full_chunks + 1,
            initial_epoch=full_chunks,
            steps_per_epoch=rest,
            callbacks=callbacks,
            **fit_kwargs,
        )
        history = _merge(history, tail)
    if history is None:  # everything was done before this call
        history = keras.callbacks.History()
        history.history, history.epoch = {}, []
    return history


def _merge(first, second):
    """One `History` covering both `fit` calls."""
    if first is None:
        return second
    for key, values in second.history.items():
        first.history.setdefault(key, []).extend(values)
    first.epoch.extend(second.epoch)
    return first
