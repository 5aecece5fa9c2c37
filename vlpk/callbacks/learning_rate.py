"""Logging the optimizer's learning rate, per epoch and per step."""

import os

import keras
import tensorflow as tf


def current_learning_rate(optimizer):
    """The learning rate `optimizer` applies at its next step, as a float.

    Args:
        optimizer: a `keras.optimizers.Optimizer`, possibly wrapped in a
            `keras.optimizers.LossScaleOptimizer` (mixed precision).

    Returns:
        The learning rate as a python `float`.

    Example:
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> current_learning_rate(keras.optimizers.SGD(schedule))
    0.10000000149011612
    """
    # A LossScaleOptimizer forwards `learning_rate` and `iterations` to the
    # optimizer it wraps, so it needs no unwrapping.
    rate = optimizer.learning_rate
    # A Keras 3 optimizer already evaluates its schedule at its own step
    # counter here; an optimizer that hands back the schedule object itself
    # gets it evaluated at `iterations`, which is what it would apply.
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(optimizer.iterations)
    return float(keras.ops.convert_to_numpy(rate))


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the learning rate to the epoch logs, and can log it every N steps.

    At each epoch end the callback sets `logs["learning_rate"]`, the rate the
    optimizer will apply at its next step. Callbacks that come after it in
    the list see it: `History` (`history.history["learning_rate"]`),
    `CSVLogger`, and `keras.callbacks.TensorBoard`, which writes it as
    `epoch_learning_rate`.

    A schedule changes the rate at every step, which one value per epoch
    hides (warm-up in particular). With `log_dir`, the callback also writes
    the scalar `learning_rate` to `<log_dir>/train` every `every_n_steps`
    batches, at step `optimizer.iterations`: the run `keras.callbacks.
    TensorBoard(log_dir)` writes its training curves to.

    Args:
        log_dir: the TensorBoard log directory, or `None` to only fill `logs`.
        every_n_steps: write the per-step scalar every this many batches.
            With `steps_per_execution > 1` Keras calls batch callbacks once
            per execution, so this counts executions.

    Example:
    >>> import tempfile
    >>> import numpy as np
    >>> log_dir = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> schedule = keras.optimizers.schedules.CosineDecay(1e-3, 10_000)
    >>> model.compile(keras.optimizers.AdamW(schedule), "mse")
    >>> history = model.fit(
    ...     np.zeros((8, 2)), np.zeros((8, 1)), epochs=2, verbose=0,
    ...     callbacks=[LearningRateLogger(log_dir, every_n_steps=100),
    ...                keras.callbacks.TensorBoard(log_dir)])
    >>> len(history.history["learning_rate"])
    2
    """

    def __init__(self, log_dir=None, every_n_steps=100):
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(
                f"`every_n_steps` must be >= 1, got {every_n_steps}. "
                "Pass `log_dir=None` to turn per-step logging off."
            )
        self.log_dir = log_dir
        self.every_n_steps = every_n_steps
        self._writer = None
        self._batches = 0

    def on_train_begin(self, logs=None):
        self._batches = 0
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, "train")
            )

    # Batch *begin*, not end: Keras keeps dispatching batch-end callbacks
    # asynchronously only while no callback overrides them, and here
    # `optimizer.iterations` is exactly the step about to use the rate.
    def on_train_batch_begin(self, batch, logs=None):
        if self._writer is None:
            return
        self._batches += 1
        if (self._batches - 1) % self.every_n_steps:
            return
        optimizer = self.model.optimizer
        # The step comes from the optimizer rather than a batch count, so
        # the curve continues across resumed runs and skipped
        # (non-finite, loss-scaled) steps.
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        with self._writer.as_default():
            tf.summary.scalar(
                "learning_rate", current_learning_rate(optimizer), step=step
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)
        if self._writer is not None:
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
