"""Trains a tiny DualEncoderBackbone with `DistributedTrainer`, as a worker or alone.

Two modes, one command line each:

- `python multi_worker_worker.py worker OUT.npz` with `TF_CONFIG` set: one
  worker of a `MultiWorkerMirroredStrategy` cluster. Each worker feeds its
  half of every global batch of 8 (rows `[4 * i, 4 * i + 4)` for worker `i`).
- `python multi_worker_worker.py reference OUT.npz`: one process, the default
  strategy, the full global batches.

Both train three models from the same seed for `STEPS` steps and save the
final weights and per-step losses of each to `OUT.npz`:

- `global`: `ContrastiveLoss()`, workers fed by `dataset_fn`
  (`distribute_datasets_from_function`, each worker slicing its rows);
- `auto`: the same loss, workers fed the global dataset, auto-sharded by
  `experimental_distribute_dataset`;
- `local`: `ContrastiveLoss(global_negatives=False)`, which differs from
  `global` only when there are several replicas (the check must catch it).
"""

import os
import sys

if __name__ == "__main__":
    # CPU only, quietly; imported by the tests, leave their process alone.
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 4
SEQUENCE_LENGTH = 6
VOCABULARY_SIZE = 30
LEARNING_RATE = 0.02
# name: (how the workers are fed, global_negatives)
MODELS = {
    "global": ("function", True),
    "auto": ("dataset", True),
    "local": ("function", False),
}


def global_batches():
    """`STEPS` deterministic global batches, stacked: `x` `[STEPS, 8, ...]`."""
    rng = np.random.default_rng(0)
    shape = (STEPS, GLOBAL_BATCH)
    mask = np.ones(shape + (SEQUENCE_LENGTH,), "int32")
    mask[:, ::3, 4:] = 0
    x = {
        "images": rng.uniform(0, 255, shape + (32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(5, VOCABULARY_SIZE, shape + (SEQUENCE_LENGTH,)),
        "padding_mask": mask,
    }
    x["token_ids"] = x["token_ids"].astype("int32")
    # Rows 0 and 4 share an image id and sit on different workers: the ids
    # must be gathered too for the targets to match one device.
    ids = np.tile(np.array([0, 1, 2, 3, 0, 5, 6, 7], "int64"), (STEPS, 1))
    return x, {"contrastive": ids}


def build_model():
    """The tiny DualEncoderBackbone, with the same initial weights in every process."""
    import keras

    from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    from vlpk.models import DualEncoderBackbone

    keras.utils.set_random_seed(0)
    return DualEncoderBackbone(
        ImageEncoder(small_cnn(32, widths=(8, 16)), normalization="unit"),
        bert_encoder(
            VOCABULARY_SIZE,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_sequence_length=SEQUENCE_LENGTH,
            dropout=0.0,  # dropout draws differ per replica
            pooling="pooler",
        ),
        embedding_dim=8,
    )


def global_dataset():
    """The global batches as a dataset batched by the global batch size.

    Under `MultiWorkerMirroredStrategy`, `experimental_distribute_dataset`
    auto-shards this in-memory dataset by DATA: worker `i` gets rows
    `[4 * i, 4 * i + 4)` of every batch, as `dataset_fn` does by hand.
    """
    x, y = global_batches()
    flat = tree_map(lambda v: v.reshape((-1,) + v.shape[2:]), (x, y))
    return tf.data.Dataset.from_tensor_slices(flat).batch(GLOBAL_BATCH)


def tree_map(fn, structure):
    return tuple({k: fn(v) for k, v in part.items()} for part in structure)


def dataset_fn(input_context):
    """One worker's pipeline: its rows of every global batch, unbatched."""
    x, y = global_batches()
    local = input_context.get_per_replica_batch_size(GLOBAL_BATCH)
    start = input_context.input_pipeline_id * local
    rows = slice(start, start + local)
    sliced = tree_map(lambda v: v[:, rows], (x, y))
    # Each element is already one replica's batch of `local` rows.
    return tf.data.Dataset.from_tensor_slices(sliced)


def train(strategy, dataset, global_negatives):
    import keras

    from vlpk.distribution import DistributedTrainer
    from vlpk.losses import ContrastiveLoss

    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(LEARNING_RATE)
    trainer = DistributedTrainer(
        model,
        strategy,
        {"contrastive": ContrastiveLoss(global_negatives=global_negatives)},
        optimizer,
    )
    history = trainer.fit(dataset, steps=STEPS, log_every=1)
    return model.get_weights(), history


def jit_compile_error(strategy):
    """The error `jit_compile=True` raises with several CPU replicas, or ""."""
    import keras

    from vlpk.distribution import DistributedTrainer

    with strategy.scope():
        inputs = keras.Input((2,))
        model = keras.Model(inputs, {"y": keras.layers.Dense(1)(inputs)})
        optimizer = keras.optimizers.SGD(0.1)
    try:
        DistributedTrainer(
            model,
            strategy,
            {"y": keras.losses.MeanSquaredError()},
            optimizer,
            jit_compile=True,
        )
    except Exception as error:  # reported to the test
        return f"{type(error).__name__}: {error}"
    return ""


def main(mode, out):
    if mode == "worker":
        # First thing: the strategy starts the gRPC server and must exist
        # before other TensorFlow ops run.
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING,
            timeout_seconds=120,
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
        assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
        datasets = {"function": dataset_fn, "dataset": global_dataset()}
    elif mode == "reference":
        strategy = tf.distribute.get_strategy()
        datasets = {"function": global_dataset(), "dataset": global_dataset()}
    else:
        raise SystemExit(f"unknown mode {mode!r}; use 'worker' or 'reference'")

    import vlpk  # noqa: F401  (selects the TensorFlow backend)

    arrays = {"jit_compile_error": jit_compile_error(strategy)}
    for name, (feed, global_negatives) in MODELS.items():
        weights, history = train(strategy, datasets[feed], global_negatives)
        arrays.update({f"{name}_w{i}": w for i, w in enumerate(weights)})
        arrays[f"{name}_loss"] = np.array(history["loss"], "float64")
        arrays[f"{name}_contrastive_loss"] = np.array(
            history["contrastive_loss"], "float64"
        )
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:3])
