"""The training loop of `vlpk pretrain`: callbacks, then the right kind of fit.

- plain `model.fit` over epochs;
- `vlpk.jobs.resume.fit_resumable` when the config sets
  `optimization.checkpoint_every`
  (resume after a crash at the same batch);
- `vlpk.distribution.DistributedTrainer` under `MultiWorkerMirroredStrategy`,
  where Keras 3.15's `fit` fails (keras#20585).
"""

import dataclasses
import os
import sys

import keras

from vlpk.callbacks import LearningRateLogger, RetrievalEvaluation, training_summaries
from vlpk.distribution.step_checkpoints import is_chief
from vlpk.distribution.trainer import DistributedTrainer
from vlpk.jobs.recipes import build_losses, contrastive_only
from vlpk.jobs.resume import fit_resumable


def _say(message):
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass
class TrainingInputs:
    """What the training loop needs besides the config, model and strategy.

    Attributes:
        train: the training `Example`s.
        val: the validation `Example`s.
        tokenizer: the KerasHub tokenizer.
        image_preprocessor: the `ImagePreprocessor`.
        text_preprocessor: the `TextPreprocessor`.
        dataset: `dataset(examples, training=True)` returns the
            `tf.data.Dataset` of a split (shuffled and repeated when training).
        steps_per_epoch: steps in one epoch.
    """

    train: list
    val: list
    tokenizer: object
    image_preprocessor: object
    text_preprocessor: object
    dataset: object
    steps_per_epoch: int


def train_model(config, model, strategy, inputs, workdir, verbose, extra_callbacks):
    """Trains `model` and returns its history dict.

    Args:
        config: the `PretrainConfig`.
        model: the compiled model, built under `strategy.scope()`.
        strategy: the `tf.distribute` strategy.
        inputs: a `TrainingInputs`.
        workdir: the run folder (`logs/` and `backup/` go there).
        verbose: `fit` verbosity.
        extra_callbacks: more Keras callbacks.

    Returns:
        `{name: [values]}`: one value per epoch (per checkpoint interval with
        `optimization.checkpoint_every`, per step under `multi_worker`).
    """
    steps_per_epoch = inputs.steps_per_epoch
    dataset = inputs.dataset
    optimization = config.optimization
    log_dir = os.path.join(workdir, "logs")
    total_steps = steps_per_epoch * optimization.epochs
    chunk = min(optimization.checkpoint_every or steps_per_epoch, total_steps)
    # Evaluate about once per real epoch, whatever the checkpoint interval.
    every = max(1, steps_per_epoch // chunk)
    callbacks = _callbacks(config, model, inputs, log_dir, every) + list(
        extra_callbacks
    )
    validation = None
    if not contrastive_only(config):
        validation = dataset(inputs.val, training=False)
    if config.distribution.strategy == "multi_worker":
        return _fit_multi_worker(config, model, strategy, inputs, log_dir, verbose)
    if optimization.checkpoint_every:
        history = fit_resumable(
            model,
            lambda: dataset(inputs.train),
            total_steps=total_steps,
            checkpoint_every=chunk,
            backup_dir=os.path.join(workdir, "backup"),
            callbacks=callbacks,
            validation_data=validation,
            validation_freq=every,
            verbose=verbose,
            shuffle=False,
        )
    else:
        history = model.fit(
            dataset(inputs.train),
            epochs=optimization.epochs,
            steps_per_epoch=optimization.steps_per_epoch,
            callbacks=callbacks,
            validation_data=validation,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself, deterministically
        )
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def _callbacks(config, model, inputs, log_dir, every):
    """Validation retrieval, TensorBoard summaries, then TensorBoard itself."""
    return [
        LearningRateLogger(),
        RetrievalEvaluation(
            inputs.val, inputs.image_preprocessor, inputs.text_preprocessor, every
        ),
        *training_summaries(
            model,
            inputs.val,
            inputs.image_preprocessor,
            inputs.text_preprocessor,
            log_dir,
            samples=config.tensorboard_samples,
            caption_sampler=config.decoder.sampler,
            every=every,
        ),
        keras.callbacks.TensorBoard(log_dir),
    ]


def _fit_multi_worker(config, model, strategy, inputs, log_dir, verbose):
    """Trains on vlpk's own step on `strategy.run`; one history value a step.

    keras#20585: `fit` fails under MultiWorkerMirroredStrategy in Keras 3.15.
    """
    losses, loss_weights, _ = build_losses(config)
    trainer = DistributedTrainer(
        model,
        strategy,
        loss=losses,
        optimizer=model.optimizer,
        loss_weights=loss_weights,
        jit_compile=config.distribution.jit_compile,
    )
    chief = is_chief(strategy)
    every = config.optimization.checkpoint_every
    return trainer.fit(
        inputs.dataset(inputs.train),
        steps=inputs.steps_per_epoch * config.optimization.epochs,
        callbacks=[keras.callbacks.TensorBoard(log_dir)] if chief else None,
        log_every=max(1, inputs.steps_per_epoch // 4),
        verbose=verbose,
        # Each worker has its run folder: each keeps its own checkpoints.
        checkpoint_dir=os.path.join(os.path.dirname(log_dir), "backup"),
        checkpoint_every=every,
    )
