"""Runs `vlpk pretrain`'s job on a smoke config; can SIGKILL itself mid-run.

Usage: pretrain_worker.py CONFIG WORKDIR [CRASH_AFTER_CHUNK]

The run trains 4 steps with a checkpoint after every step. With a chunk
number it kills itself (kill -9) right after that checkpoint is written.
"""

import os
import signal
import sys

import keras

import vlpk  # noqa: F401
from vlpk.config import load_config
from vlpk.jobs.pretrain import run_pretrain

config_path, workdir = sys.argv[1], sys.argv[2]
crash_after = int(sys.argv[3]) if len(sys.argv) > 3 else None


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if crash_after is not None and epoch + 1 == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)


# Dropout in every block: resuming must replay its random masks too. Twelve
# test images: the fine-tuning tests, which start from the ALBEF run, count on
# them.
config = load_config(config_path, smoke=True).replace(
    data={"test_images": 12},
    optimization={"epochs": 2, "checkpoint_every": 1},
    distribution={"deterministic": True},
    text={"dropout": 0.1},
    fusion={"dropout": 0.1},
    decoder={"dropout": 0.1},
)
run_pretrain(
    config,
    workdir=workdir,
    export_root=os.path.join(workdir, "export"),
    verbose=0,
    callbacks=[Crash()],
)
