"""A train step on `strategy.run`, for multi-worker training.

Why this exists: in Keras 3.15, `model.fit` under
`tf.distribute.MultiWorkerMirroredStrategy` fails in
`Trainer._maybe_symbolic_build` with "Attempt to convert a value
(PerReplica...)" ([keras#20585](https://github.com/keras-team/keras/issues/20585));
skipping the symbolic build only moves the failure into the reduction of the
loss metrics. `model.fit` under `MirroredStrategy` (one machine) works, and
stays the recommended path there.

`DistributedTrainer` sidesteps the Keras trainer and its metrics: one
`tf.function` runs the forward pass, the losses and
`optimizer.apply_gradients` on `strategy.run`, then sums the per-replica
losses with `strategy.reduce`. It keeps Keras's distribution convention, which
vlpk's losses rely on: in replica context a `keras.losses.Loss` with reduction
`"sum_over_batch_size"` already returns its local mean divided by
`num_replicas_in_sync`, the optimizer sums gradients over replicas, and so the
sum over replicas (loss and gradients) equals the single-device loss on the
global batch. The trainer therefore does not scale the compiled losses again;
it scales only `model.losses` (regularizers, which every replica adds in full)
by `1 / num_replicas_in_sync`.

Feeding the workers. Under `MultiWorkerMirroredStrategy` every worker runs the
same program and must feed its own slice of each global batch:

- `fit(dataset)` with a `tf.data.Dataset` batched by the **global** batch size
  calls `strategy.experimental_distribute_dataset`. tf.data then auto-shards
  it: by FILE when the pipeline reads files (each worker reads its own files;
  you need at least as many files as workers), else by DATA (each worker
  builds the whole pipeline and keeps only its share of every global batch).
  Set the policy with `tf.data.Options().experimental_distribute
  .auto_shard_policy`; with `OFF` every worker sees every example, which is
  only right if each worker's dataset already holds just its slice.
- `fit(dataset_fn)` with a function of a `tf.distribute.InputContext` calls
  `strategy.distribute_datasets_from_function`: the function builds one
  worker's pipeline, batched by the **per-replica** batch size
  (`input_context.get_per_replica_batch_size(global_batch)`), and shards it
  itself, e.g. `dataset.shard(input_context.num_input_pipelines,
  input_context.input_pipeline_id)`. The test
  (`tests/distribution/multi_worker_worker.py`) does this: it builds one
  deterministic global batch of 8 in numpy, and worker `i` feeds rows
  `[4 * i, 4 * i + 4)`, so the two workers together see exactly the batch the
  single-device reference trains on.

Launch one process per worker with the same script and a `TF_CONFIG` naming
the cluster and the worker's index, e.g. `TF_CONFIG='{"cluster": {"worker":
["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}'`,
and create the strategy first thing in the program (before other TensorFlow
ops). All workers log the same (all-reduced) losses; only the chief prints
progress. Callbacks run on every worker: keep writes (checkpoints, TensorBoard)
to the chief, or give each worker its own directory.
"""

import sys
import time

import keras
import tensorflow as tf

from vlpk.distribution.step_checkpoints import StepCheckpoints
from vlpk.errors import InputError

# Reductions whose value, summed over replicas, is the global-batch loss.
_SUMMABLE_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "sum")


class DistributedTrainer:
    """Trains a model with named outputs on `strategy.run`, without `fit`.

    Build the model and the optimizer inside `strategy.scope()`. Each step runs
    the forward pass on every replica, adds `loss_weights[name] *
    loss[name](y[name], y_pred[name])` over the outputs named in `loss` plus
    `model.losses`, and applies the gradients (summed over replicas, so
    global negatives and gradients match one device on the global batch). A
    `keras.optimizers.LossScaleOptimizer` (`mixed_float16`) is honoured via
    its `scale_loss`.

    Args:
        model: a Keras model whose outputs are a dict of named tensors, or
            one tensor when `loss` has one entry (its name then only labels
            the logs), built under `strategy.scope()`.
        strategy: the `tf.distribute.Strategy` (any; typically
            `MultiWorkerMirroredStrategy`, for which `model.fit` fails).
        loss: a dict `{output_name: keras.losses.Loss}` (a loss function or
            its name is wrapped in one); outputs not named get no loss.
        optimizer: a Keras optimizer created under `strategy.scope()`.
        loss_weights: a dict `{output_name: float}`; missing names weigh 1.0.
        jit_compile: XLA-compile the replica step. With several replicas on
            CPUs this is refused: XLA has no CPU kernels for the collectives
            (`CollectiveGatherV2`) the step needs.

    Example:
    >>> import numpy as np
    >>> from vlpk.distribution import build_strategy
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.losses import ContrastiveLoss
    >>> from vlpk.models import DualEncoderBackbone
    >>> strategy = build_strategy("mirrored", devices=["/cpu:0"])  # one replica
    >>> with strategy.scope():
    ...     model = DualEncoderBackbone(ImageEncoder(small_cnn(8, widths=(4,))),
    ...         bert_encoder(10, num_layers=1, num_heads=2, hidden_dim=4,
    ...                      intermediate_dim=8, max_sequence_length=4))
    ...     trainer = DistributedTrainer(model, strategy,
    ...         {"contrastive": ContrastiveLoss()}, keras.optimizers.Adam(1e-2))
    >>> rng = np.random.default_rng(0)
    >>> x = {"images": rng.uniform(0, 255, (4, 8, 8, 3)).astype("float32"),
    ...      "token_ids": rng.integers(5, 10, (4, 4)), "padding_mask": np.ones((4, 4))}
    >>> batches = tf.data.Dataset.from_tensors((x, {"contrastive": np.arange(4)}))
    >>> history = trainer.fit(batches.repeat(), steps=5, verbose=0)
    >>> sorted(history), len(history["loss"])  # one float per step
    (['contrastive_loss', 'loss'], 5)

    On a cluster, `build_strategy("multi_worker")`, run on every worker
    with its `TF_CONFIG`, takes the place of the one-replica strategy; the
    rest is unchanged.
    """

    def __init__(
        self,
        model,
        strategy,
        loss,
        optimizer,
        loss_weights=None,
        jit_compile=False,
    ):
        if not isinstance(loss, dict) or not loss:
            raise InputError(
                "DistributedTrainer needs `loss` as a non-empty dict "
                "{output_name: keras.losses.Loss}, e.g. "
                "{'contrastive': vlpk.losses.ContrastiveLoss()}."
            )
        loss_weights = dict(loss_weights or {})
        unknown = sorted(set(loss_weights) - set(loss))
        if unknown:
            raise InputError(
                f"loss_weights names {unknown}, which have no loss; the losses "
                f"are for {sorted(loss)}."
            )
        outputs = _output_names(model)
        missing = sorted(set(loss) - set(outputs)) if outputs is not None else []
        if missing:
            raise InputError(
                f"loss names outputs {missing} the model does not have; its "
                f"outputs are {sorted(outputs)}."
            )
        self.model = model
        self.strategy = strategy
        self.loss = {name: _as_loss(name, fn) for name, fn in loss.items()}
        self.loss_weights = {name: float(loss_weights.get(name, 1.0)) for name in loss}
        self.optimizer = optimizer
        self.jit_compile = jit_compile

        _check_created_in_scope(strategy, model, optimizer)
        if jit_compile and strategy.num_replicas_in_sync > 1 and not _accelerators():
            raise InputError(
                "jit_compile=True with several CPU replicas: XLA has no CPU "
                "kernels for the collectives (all_gather, all_reduce) of the "
                "step. Pass jit_compile=False, or train on GPUs or TPUs."
            )
        # Create the optimizer's slots now, under the scope: nothing may be
        # created inside the replica function.
        with strategy.scope():
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
        replica_step = self._replica_step
        if jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True)
        self._replica_fn = replica_step
        self._step_fn = tf.function(self._distributed_step)

    # === One step ===

    def _replica_step(self, batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        if not isinstance(y, dict):
            if len(self.loss) != 1:
                raise InputError(
                    f"With losses on {sorted(self.loss)}, `y` must be a dict "
                    "with one target per output name."
                )
            y = {next(iter(self.loss)): y}
        num_replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        trainable = self.model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            if not isinstance(y_pred, dict):
                # A single-output model (a causal LM's logits): its one loss.
                y_pred = {next(iter(self.loss)): y_pred}
            logs = {}
            total = tf.constant(0.0, "float32")
            for name, loss_fn in self.loss.items():
                weights = (
                    sample_weight.get(name)
                    if isinstance(sample_weight, dict)
                    else sample_weight
                )
                # Under a strategy, Loss.__call__ already divides the local
                # mean by num_replicas_in_sync (Keras's convention).
                value = tf.cast(loss_fn(y[name], y_pred[name], weights), "float32")
                logs[f"{name}_loss"] = value
                total = total + self.loss_weights[name] * value
            if self.model.losses:
                # Every replica adds the full regularization: count it once.
                extra = tf.add_n([tf.cast(v, "float32") for v in self.model.losses])
                total = total + extra / num_replicas
            scaled = self.optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, trainable)
        self.optimizer.apply_gradients(zip(gradients, trainable))
        return {"loss": total, **logs}

    def _distributed_step(self, batch):
        per_replica = self.strategy.run(self._replica_fn, args=(batch,))
        # Each replica's value is already scaled by 1 / replicas: the SUM is
        # the global-batch loss.
        return {
            name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    def train_step(self, batch):
        """Runs one step on a batch from a distributed dataset.

        Args:
            batch: `(x, y)` or `(x, y, sample_weight)`, as yielded by a
                dataset distributed with this trainer's strategy (per-replica
                values), or a plain batch under the default strategy.

        Returns:
            A dict of Python floats: `loss` (the weighted total) and
            `<name>_loss` per output, each the loss of the global batch.

        Example:
        >>> strategy = tf.distribute.get_strategy()  # the default strategy
        >>> with strategy.scope():
        ...     model = keras.Sequential([keras.Input((3,)),
        ...         keras.layers.Dense(1, kernel_initializer="ones")])
        ...     trainer = DistributedTrainer(model, strategy, {"y": "mse"},
        ...                                  keras.optimizers.SGD(0.1))
        >>> trainer.train_step((tf.ones((2, 3)), tf.zeros((2, 1))))  # (3 - 0) ** 2
        {'loss': 9.0, 'y_loss': 9.0}
        """
        logs = self._step_fn(batch)
        return {name: float(value) for name, value in logs.items()}

    # === The loop ===

    def distribute(self, dataset):
        """Distributes `dataset` with the strategy (see the module docstring).

        Args:
            dataset: a `tf.data.Dataset` batched by the global batch size; a
                function of a `tf.distribute.InputContext` returning one
                worker's dataset batched by the per-replica batch size; or an
                already-distributed dataset, returned as is.

        Returns:
            A distributed dataset to iterate.
        """
        if isinstance(dataset, tf.data.Dataset):
            return self.strategy.experimental_distribute_dataset(dataset)
        if callable(dataset) and not hasattr(dataset, "__iter__"):
            return self.strategy.distribute_datasets_from_function(dataset)
        return dataset

    def fit(
        self,
        dataset,
        steps,
        callbacks=None,
        log_every=100,
        verbose=1,
        checkpoint_dir=None,
        checkpoint_every=None,
    ):
        """Runs `steps` train steps and returns the per-step losses.

        Args:
            dataset: what `distribute` accepts; it must yield at least `steps`
                batches (`repeat()` it).
            steps: number of steps to run.
            callbacks: `keras.callbacks.Callback`s. They get
                `on_train_begin`, `on_epoch_begin(0)`, `on_train_batch_begin`
                and `on_train_batch_end(step, logs)`, `on_epoch_end(0, logs)`
                and `on_train_end`; setting `model.stop_training` (e.g.
                `TerminateOnNaN`) stops the loop on every worker, since all
                workers see the same logs.
            log_every: print step, loss and steps/s every this many steps.
            verbose: 0 is silent; otherwise the chief prints to stderr.
            checkpoint_dir: with `checkpoint_every`, save the model, the
                optimizer and the step there every `checkpoint_every` steps,
                and resume from its last checkpoint: the batches consumed
                before it are skipped (see `vlpk.distribution.step_checkpoints`).
                `dataset` must then be a `tf.data.Dataset` or a dataset
                function, deterministic from one start to the next.
            checkpoint_every: the interval in steps.

        Returns:
            A dict `{name: [one float per step]}` with the keys of
            `train_step`'s logs, for the steps this call ran.

        Example:
        >>> strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        >>> with strategy.scope():  # y = w * x from w = 0, towards y = 2 x
        ...     w = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        ...     model = keras.Sequential([keras.Input((1,)), w])
        ...     trainer = DistributedTrainer(model, strategy, {"y": "mse"},
        ...                                  keras.optimizers.SGD(0.25))
        >>> x, y = tf.ones((4, 1)), tf.fill((4, 1), 2.0)
        >>> dataset = tf.data.Dataset.from_tensors((x, y))
        >>> trainer.fit(dataset.repeat(), steps=3, verbose=0)
        {'loss': [4.0, 1.0, 0.25], 'y_loss': [4.0, 1.0, 0.25]}
        """
        checkpoints, start = None, 0
        if checkpoint_dir and checkpoint_every:
            checkpoints = StepCheckpoints(self, checkpoint_dir, checkpoint_every)
            start = checkpoints.restore()
        callback_list = keras.callbacks.CallbackList(
            callbacks, model=self.model, epochs=1, steps=steps, verbose=0
        )
        iterator = iter(self.distribute(_skipped(dataset, start)))
        verbose = verbose and getattr(self.strategy.extended, "should_checkpoint", True)
        history, logs = {}, {}
        self.model.stop_training = False
        callback_list.on_train_begin()
        callback_list.on_epoch_begin(0)
        window = [time.perf_counter(), 0]
        for step in range(start, steps):
            callback_list.on_train_batch_begin(step)
            logs = self.train_step(_next_batch(iterator, step, steps))
            for name, value in logs.items():
                history.setdefault(name, []).append(value)
            callback_list.on_train_batch_end(step, dict(logs))
            if checkpoints is not None:
                checkpoints.maybe_save(step + 1, last=step + 1 == steps)
            if verbose:
                _log_progress(window, step, steps, log_every, logs)
            if self.model.stop_training:
                break
        callback_list.on_epoch_end(0, dict(logs))
        callback_list.on_train_end(dict(logs))
        return history


def _skipped(dataset, batches):
    """`dataset` without its first `batches` batches (on each worker)."""
    if not batches:
        return dataset
    if isinstance(dataset, tf.data.Dataset):
        return dataset.skip(batches)
    if callable(dataset) and not hasattr(dataset, "__iter__"):
        return lambda context: dataset(context).skip(batches)
    raise InputError(
        "Resuming needs the dataset as a tf.data.Dataset or a dataset "
        "function, not an already-distributed dataset: its position is lost."
    )


def _next_batch(iterator, step, steps):
    try:
        return next(iterator)
    except (StopIteration, tf.errors.OutOfRangeError):
        raise InputError(
            f"The dataset ran out after {step} of {steps} steps; "
            "`repeat()` it or ask for fewer steps."
        ) from None


def _log_progress(window, step, steps, log_every, logs):
    """Prints step, loss and steps/s every `log_every` steps and at the end."""
    window[1] += 1
    if (step + 1) % log_every == 0 or step + 1 == steps:
        elapsed = time.perf_counter() - window[0]
        print(
            f"step {step + 1}/{steps}  loss {logs['loss']:.4f}  "
            f"{window[1] / max(elapsed, 1e-9):.2f} steps/s",
            file=sys.stderr,
        )
        window[:] = [time.perf_counter(), 0]


def _output_names(model):
    """The model's output names, or None if they cannot be known yet."""
    try:
        outputs = model.output
    except (AttributeError, ValueError):
        return None
    return list(outputs) if isinstance(outputs, dict) else None


class _FunctionLoss(keras.losses.Loss):
    """A loss function `fn(y_true, y_pred) -> [batch]` as a `Loss`."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def _as_loss(name, loss_fn):
    if isinstance(loss_fn, str):
        loss_fn = keras.losses.get(loss_fn)
    if not isinstance(loss_fn, keras.losses.Loss):
        if not callable(loss_fn):
            raise InputError(f"The loss for {name!r} is not callable: {loss_fn!r}.")
        loss_fn = _FunctionLoss(loss_fn)
    if loss_fn.reduction not in _SUMMABLE_REDUCTIONS:
        raise InputError(
            f"The loss for {name!r} has reduction {loss_fn.reduction!r}; "
            f"DistributedTrainer needs one of {_SUMMABLE_REDUCTIONS}."
        )
    return loss_fn


def _accelerators():
    return tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")


def _check_created_in_scope(strategy, model, optimizer):
    extended = strategy.extended
    variables = [("model", v) for v in model.trainable_variables[:1]]
    variables.append(("optimizer", optimizer.iterations))
    for owner, variable in variables:
        variable = getattr(variable, "value", variable)
        if not extended.variable_created_in_scope(variable):
            raise InputError(
                f"The {owner}'s variables were not created under this "
                "strategy's scope: build the model and create the optimizer "
                "inside `with strategy.scope():`."
            )
