"""Runs the smoke instruct stage with checkpoints; can kill itself mid-run.

Usage: vision_lm_resume_worker.py WORKDIR DATA_DIR [CRASH_AFTER_CHUNK]

With `RESUME_SHARDS=FOLDER` in the environment it trains on those LLaVA
conversation shards instead of Shapes (DATA_DIR is then unused).
"""

import os
import signal
import sys

import tensorflow as tf

tf.config.experimental.enable_op_determinism()

import keras  # noqa: E402

from vlpk.config import load_config  # noqa: E402
from vlpk.jobs.vision_lm import run_vision_lm  # noqa: E402

CONFIG = os.path.join(
    os.path.dirname(__file__), "..", "training", "configs", "shapes_llava_instruct.py"
)
workdir, data_dir = sys.argv[1], sys.argv[2]
crash_after = int(sys.argv[3]) if len(sys.argv) > 3 else None


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if crash_after is not None and epoch + 1 == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)  # after the chunk's checkpoint


config = load_config(CONFIG, smoke=True).override(
    [
        "optimization.steps_per_epoch=4",
        "optimization.checkpoint_every=1",
        "distribution.deterministic=true",
        "evaluate_images=1",
    ]
    + (
        [f"data.train={os.environ['RESUME_SHARDS']}"]
        if "RESUME_SHARDS" in os.environ
        else []
    )
)
run_vision_lm(config, workdir, data_dir=data_dir, verbose=0, callbacks=[Crash()])
