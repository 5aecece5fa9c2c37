"""A LLaVA-stage run killed with SIGKILL and resumed ends with the
uninterrupted run's weights."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

import vlpk.models.vision_lm  # noqa: F401  (registers the classes model.keras names)
from vlpk.data.synthetic import write_shapes

WORKER = os.path.join(os.path.dirname(__file__), "vision_lm_resume_worker.py")


def run(*jobs, env=None):
    processes = [
        subprocess.Popen(
            [sys.executable, WORKER, *map(str, job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        for job in jobs
    ]
    for process in processes:
        _, process.stderr_text = process.communicate(timeout=600)
    return processes


def read_losses(workdir):
    with open(os.path.join(workdir, "metrics.json")) as f:
        return json.load(f)["train_loss"]


def weights(workdir):
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    return [np.asarray(w) for w in model.weights]


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted(tmp_path):
    data = tmp_path / "shapes"
    write_shapes(
        data, image_size=32, progress=False, splits={"train": 24, "val": 8, "test": 8}
    )
    check_kill_and_resume(tmp_path, data)


@pytest.mark.slow
def test_kill_and_resume_on_conversation_shards(tmp_path):
    """The same on LLaVA shards: the stream resumes at its exact position."""
    from tests.test_vision_lm_shards_end_to_end import convert_llava

    data = tmp_path / "shapes"
    write_shapes(data, image_size=32, progress=False, splits={"train": 24, "test": 4})
    for split in ("train", "test"):
        convert_llava(data, split, tmp_path / "shards" / split)
    env = {"RESUME_SHARDS": str(tmp_path / "shards" / "train")}
    check_kill_and_resume(tmp_path, data, env)


def check_kill_and_resume(tmp_path, data, env=None):
    straight, crashed = run((tmp_path / "a", data), (tmp_path / "b", data, 2), env=env)
    assert straight.returncode == 0, straight.stderr_text[-3000:]
    assert crashed.returncode == -signal.SIGKILL
    assert not (tmp_path / "b" / "model.keras").exists()
    (resumed,) = run((tmp_path / "b", data), env=env)
    assert resumed.returncode == 0, resumed.stderr_text[-3000:]
    # It resumed: only the chunks after the checkpoint were trained again.
    losses = [read_losses(tmp_path / run) for run in "ab"]
    assert len(losses[1]) < len(losses[0]), losses
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(np.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a, b))
