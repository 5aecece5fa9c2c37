"""One training loop for both LM stages: `fit`, or vlpk's step on many workers.

`model.fit` under `MultiWorkerMirroredStrategy` fails in Keras 3.15
(keras#20585), so there the model's own compiled loss trains on
`vlpk.distribution.DistributedTrainer`, as `vlpk pretrain`'s other objectives
do. Both paths keep Keras's distribution convention: each replica's loss is
its local mean divided by the number of replicas, so with `AnswerLoss` (a
mean over answer tokens) a replica's answer tokens weigh as the replica's
share, the per-device mean that LLaVA's data-parallel training also takes.
"""

import math
import sys

import tensorflow as tf

from vlpk.distribution.trainer import DistributedTrainer


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit_epochs(
    model,
    strategy,
    dataset,
    epochs,
    steps_per_epoch,
    callbacks=(),
    verbose=2,
    jit_compile=False,
    checkpoint_dir=None,
    checkpoint_every=None,
):
    """Trains a compiled single-output model; returns `{name: [values]}`.

    Args:
        model: a compiled Keras model (its `loss` and `optimizer` are used),
            built under `strategy.scope()`.
        strategy: the `tf.distribute` strategy.
        dataset: the training `tf.data.Dataset`, batched by the global batch
            size; it must yield `epochs * steps_per_epoch` batches.
        epochs: the number of epochs.
        steps_per_epoch: steps in one epoch.
        callbacks: Keras callbacks.
        verbose: `fit` verbosity (on workers: 0 silent, else the chief logs).
        jit_compile: XLA for the multi-worker step (`True` only; "auto" is
            off there).
        checkpoint_dir: on many workers, where `DistributedTrainer` saves
            every `checkpoint_every` steps and resumes from (see
            `vlpk.distribution.step_checkpoints`); ignored by `fit`.
        checkpoint_every: the interval in steps.

    Returns:
        One value an epoch with `fit`; one value a step on many workers.
    """
    if not is_multi_worker(strategy):
        history = model.fit(
            dataset,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=list(callbacks),
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself, deterministically
        )
        return history.history
    trainer = DistributedTrainer(
        model,
        strategy,
        {"answer": model.loss},
        model.optimizer,
        jit_compile=jit_compile is True,
    )
    print(
        f"      {strategy.num_replicas_in_sync} replicas on "
        "MultiWorkerMirroredStrategy: vlpk's DistributedTrainer (keras#20585)",
        file=sys.stderr,
    )
    return trainer.fit(
        dataset,
        steps=epochs * steps_per_epoch,
        callbacks=list(callbacks) or None,
        log_every=max(1, steps_per_epoch // 4),
        verbose=verbose,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
    )


def steps_over(examples, batch_size):
    """Steps in one pass over `examples` rows, the last batch partial."""
    return max(1, math.ceil(examples / batch_size))
