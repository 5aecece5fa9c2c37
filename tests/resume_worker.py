"""Trains a tiny dual encoder with `fit_resumable`; can kill itself mid-run.

Usage: resume_worker.py WORKDIR OUT.npz [CRASH_AFTER_CHUNK|rewind]

The data is Shapes in memory, or, with `RESUME_SHARDS=<split folder>` in the
environment, that folder's TFRecord shards streamed through
`pretraining_dataset` (interleave, record shuffle, pair shuffle), as
`vlpk pretrain --set data.train=...` reads them.

`rewind` resumes while replaying the data from the start (the
`BackupAndRestore`-only behaviour), to show the test can tell the difference.
"""

import os
import signal
import sys

import numpy as np
import tensorflow as tf

tf.config.experimental.enable_op_determinism()

import keras  # noqa: E402

import vlpk  # noqa: E402, F401
from vlpk.config import PretrainConfig  # noqa: E402
from vlpk.data import ImagePreprocessor, contrastive_dataset, read_shapes, write_shapes  # noqa: E402
from vlpk.data.pipelines.pretraining import pretraining_dataset  # noqa: E402
from vlpk.data.shards.shard_splits import ShardSplit  # noqa: E402
from vlpk.jobs.recipes import build_dual_encoder, build_loss, build_optimizer  # noqa: E402
from vlpk.jobs.resume import fit_resumable  # noqa: E402
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer  # noqa: E402

workdir, out = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else None
crash_after = int(mode) if mode and mode.isdigit() else None
if mode == "rewind":
    tf.data.Dataset.skip = lambda self, count, name=None: self
config = PretrainConfig().smoke().replace(text={"dropout": 0.1})
keras.utils.set_random_seed(0)
image_pre = ImagePreprocessor(64)
shards = os.environ.get("RESUME_SHARDS")
if shards:
    train = ShardSplit.open(shards)
    captions = train.caption_dataset()
else:
    write_shapes(
        os.path.join(workdir, "shapes"),
        image_size=64,
        progress=False,
        splits={"train": 12, "val": 4, "test": 4},
    )
    train = read_shapes(os.path.join(workdir, "shapes"), "train")
    captions = [c for e in train for c in e.captions]
vocab = learn_vocabulary(captions, 120)
text_pre = TextPreprocessor(wordpiece_tokenizer(vocab), config.text.sequence_length)


def dataset():
    if shards:
        return pretraining_dataset(
            train, image_pre, text_pre, batch_size=8, repeat=True
        )
    return contrastive_dataset(train, image_pre, text_pre, batch_size=8, repeat=True)


model = build_dual_encoder(config, len(vocab))
model.compile(
    optimizer=build_optimizer(config.optimization, 12),
    loss={"contrastive": build_loss(config)},
)


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if crash_after is not None and epoch + 1 == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)  # after the chunk's checkpoint


fit_resumable(
    model,
    dataset,
    total_steps=12,
    checkpoint_every=3,
    backup_dir=os.path.join(workdir, "backup"),
    callbacks=[Crash()],
    verbose=0,
)
np.savez(out, *model.get_weights(), iterations=int(model.optimizer.iterations))
