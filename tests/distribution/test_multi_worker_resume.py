"""Two workers killed with `kill -9` and restarted end at the uninterrupted weights.

`vlpk pretrain` under `strategy=multi_worker` trains on `DistributedTrainer`,
which checkpoints every `optimization.checkpoint_every` steps. The test
waits for both workers' first checkpoint, kills both workers, starts them
again in the same run folders, and compares the chief's final weights with
those of a run that was never interrupted.
"""

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.distribution.workers import run_cli_workers, start_cli_workers
from vlpk.models import load_task

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "training/configs/shapes_albef.py")
STEPS, EVERY = 12, 3


def args_for(tmp_path, name):
    def args(index):
        return [
            "pretrain", "--config", CONFIG,
            "--smoke", "--steps-per-epoch", str(STEPS),
            "--set", "distribution.strategy=multi_worker",
            "--set", f"optimization.checkpoint_every={EVERY}",
            "--workdir", str(tmp_path / name / f"worker{index}"),
            "--export-dir", str(tmp_path / name / f"export{index}"),
        ]  # fmt: skip

    return args


def chief_weights(run):
    return load_task(str(run / "worker0" / "preset")).backbone.get_weights()


@pytest.mark.slow
def test_killed_workers_resume_at_the_uninterrupted_weights(tmp_path):
    run_cli_workers(args_for(tmp_path, "straight"))
    crashed = args_for(tmp_path, "crashed")
    procs = start_cli_workers(crashed, output=subprocess.DEVNULL)
    # Each worker saves its own copy: wait until both have one, or the
    # restart rightly agrees on step 0 (the last step *every* worker saved).
    checkpoints = [
        tmp_path / "crashed" / f"worker{i}" / "backup" / "checkpoint" for i in (0, 1)
    ]
    deadline = time.time() + 300
    while not all(c.exists() for c in checkpoints) and time.time() < deadline:
        assert all(p.poll() is None for p in procs), "a worker exited early"
        time.sleep(0.02)
    for p in procs:
        p.send_signal(signal.SIGKILL)
    assert [p.wait() for p in procs] == [-signal.SIGKILL] * 2
    assert not (tmp_path / "crashed" / "worker0" / "metrics.json").exists()
    logs = run_cli_workers(crashed)
    resumed = [int(s) for s in re.findall(r"checkpoint of step (\d+)", logs[0])]
    assert len(resumed) == 1 and 0 < resumed[0] < STEPS, logs[0][-2000:]
    history = json.load(open(tmp_path / "crashed" / "worker0" / "metrics.json"))
    assert len(history["train_history"]["loss"]) == STEPS - resumed[0]
    for a, b in zip(
        chief_weights(tmp_path / "straight"), chief_weights(tmp_path / "crashed")
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
