"""Mid-run checkpoints for `DistributedTrainer`: resume at the same step.

Keras's `BackupAndRestore` needs `fit`, which fails under
`MultiWorkerMirroredStrategy` in Keras 3.15 (keras#20585), and restores the
epoch only. Here every `every` steps each worker saves the model's and the
optimizer's variables (dropout's seed states included) and the step count
with `tf.train.Checkpoint`; on restart, the workers agree on the last step
they all saved, restore it, and the trainer skips the batches consumed
before it, so a `kill -9` loses at most one interval and the resumed run
ends at the uninterrupted run's weights (given a deterministic input).

Saving is collective: every worker calls it. Workers that share one
checkpoint folder leave it to the chief and write theirs to a scratch
folder beside it (TensorFlow's multi-worker checkpointing convention);
workers with folders of their own (one run folder each, as `vlpk pretrain`
gives them) keep their own copies, two checkpoints deep.
"""

import os
import shutil
import sys

import numpy as np
import tensorflow as tf

from vlpk.errors import InputError


def _say(message):
    print(message, file=sys.stderr, flush=True)


class StepCheckpoints:
    """Saves and restores a `DistributedTrainer`'s state every `every` steps.

    Args:
        trainer: the `DistributedTrainer`.
        directory: the checkpoint folder.
        every: save after every this many steps (and after the last).
        shared: whether all workers were given the same `directory` (then
            only the chief's copy is kept).
    """

    def __init__(self, trainer, directory, every, shared=False):
        if every is None or every <= 0:
            raise InputError("checkpoint_every must be a positive number of steps.")
        self.strategy, self.every = trainer.strategy, int(every)
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        variables = list(trainer.model.variables) + list(trainer.optimizer.variables)
        self.checkpoint = tf.train.Checkpoint(variables=variables, step=self.step)
        self.directory = directory
        if shared and not is_chief(self.strategy):
            self.directory = os.path.join(
                directory, f"worker-{_task_id(self.strategy)}"
            )
        self.scratch = self.directory != directory
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=2, checkpoint_name="step"
        )

    def restore(self):
        """Restores the last step every worker saved; returns it (0: none)."""
        kept = os.path.dirname(self.directory) if self.scratch else self.directory
        own = [_number(path) for path in _listed(kept)]
        agreed = _min_over_workers(self.strategy, max(own, default=0))
        if agreed == 0:
            return 0
        if agreed not in own:
            raise InputError(
                f"{kept} has no checkpoint of step {agreed}, the last step "
                "every worker saved: the folders are from different runs."
            )
        path = os.path.join(kept, f"step-{agreed}")
        self.checkpoint.restore(path).assert_consumed()
        _say(f"      resumed from the checkpoint of step {agreed} ({path})")
        return int(self.step.numpy())

    def maybe_save(self, step, last=False):
        """Saves after `step` (1-based) when it ends an interval or the run."""
        if step % self.every and not last:
            return
        self.step.assign(step)
        self.manager.save(checkpoint_number=step)
        if self.scratch:
            shutil.rmtree(self.directory, ignore_errors=True)


def _listed(directory):
    state = tf.train.get_checkpoint_state(directory)
    return list(state.all_model_checkpoint_paths) if state else []


def _number(path):
    return int(path.rsplit("-", 1)[1])


def _min_over_workers(strategy, value):
    """The smallest of each worker's `value` (collective: all must call it)."""
    if strategy.num_replicas_in_sync == 1:
        return int(value)
    per_replica = strategy.run(lambda: tf.constant([value], tf.int64))
    return int(np.min(strategy.gather(per_replica, axis=0).numpy()))


def is_chief(strategy):
    """True on the worker that writes files (task 0, or the only process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def _task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0) or 0
