"""The smoke pretraining runs that several test modules read, started once.

`vlpk pretrain` of the ALBEF and CoCa smoke configs, and an ALBEF run killed
mid-way, each in a worker process (`tests/pretrain_worker.py`), all three at
once: most of each is TensorFlow's start and tracing. `tests/conftest.py`
serves them as the session fixture `pretrain_runs`; the fine-tuning tests
start from the ALBEF run, which they only read.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "pretrain_worker.py")


def config_path(name):
    return os.path.join(ROOT, "training", "configs", f"{name}.py")


def start(name, workdir, crash_after=None):
    """Starts `vlpk pretrain` of config `name` in a worker process."""
    args = [sys.executable, WORKER, config_path(name), str(workdir)]
    if crash_after is not None:
        args.append(str(crash_after))
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(process):
    """Waits for a `start`ed run; it gets `stdout` and `stderr` as strings."""
    process.stdout, process.stderr = process.communicate(timeout=600)
    return process


def pretrain(name, workdir, crash_after=None):
    return finish(start(name, workdir, crash_after))


def start_all(tmp_path_factory):
    """The ALBEF and CoCa smoke runs, and the ALBEF run killed after its 2nd
    chunk: `{"workdir", "killed", "crashed", "coca", "coca_workdir"}`."""
    folders = {
        name: tmp_path_factory.mktemp(name) for name in ("albef", "killed", "coca")
    }
    runs = [
        start("shapes_albef", folders["albef"]),
        start("shapes_albef", folders["killed"], 2),
        start("shapes_coca", folders["coca"]),
    ]
    straight, crashed, coca = [finish(run) for run in runs]
    assert straight.returncode == 0, straight.stderr[-4000:]
    return {
        "workdir": folders["albef"],
        "killed": folders["killed"],
        "crashed": crashed,
        "coca": coca,
        "coca_workdir": folders["coca"],
    }
