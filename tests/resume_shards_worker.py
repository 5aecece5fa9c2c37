"""Trains a tiny dual encoder on TFRecord shards with `fit_resumable`.

Usage: resume_shards_worker.py SHARDS_DIR WORKDIR OUT.npz [CRASH_AFTER_CHUNK|rewind]

`SHARDS_DIR` is a training split folder written by `vlpk data convert` (it
has a `manifest.json`). The batches stream from its shards through
`pretraining_dataset` (interleave, record shuffle, pair shuffle), as
`vlpk pretrain` reads them. `rewind` resumes while replaying the data from
the start (the `BackupAndRestore`-only behaviour), to show the test can tell
the difference. See `resume_worker.py` for the same run on in-memory Shapes.
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
from vlpk.data import ImagePreprocessor  # noqa: E402
from vlpk.data.pretraining import pretraining_dataset  # noqa: E402
from vlpk.data.shard_splits import ShardSplit  # noqa: E402
from vlpk.jobs.recipes import build_dual_encoder, build_loss, build_optimizer  # noqa: E402
from vlpk.jobs.resume import fit_resumable  # noqa: E402
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer  # noqa: E402

shards, workdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
mode = sys.argv[4] if len(sys.argv) > 4 else None
crash_after = int(mode) if mode and mode.isdigit() else None
if mode == "rewind":
    tf.data.Dataset.skip = lambda self, count, name=None: self
config = PretrainConfig().smoke().replace(text={"dropout": 0.1})
keras.utils.set_random_seed(0)
split = ShardSplit.open(shards)
vocab = learn_vocabulary(split.caption_dataset(), 120)
text_pre = TextPreprocessor(wordpiece_tokenizer(vocab), config.text.sequence_length)
image_pre = ImagePreprocessor(64)
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
    lambda: pretraining_dataset(
        split,
        image_pre,
        text_pre,
        objectives=("contrastive",),
        batch_size=8,
        shuffle=True,
        seed=0,
        repeat=True,
    ),
    total_steps=12,
    checkpoint_every=3,
    backup_dir=os.path.join(workdir, "backup"),
    callbacks=[Crash()],
    verbose=0,
)
np.savez(out, *model.get_weights(), iterations=int(model.optimizer.iterations))
