"""A run killed with SIGKILL and resumed ends with the uninterrupted weights."""

import os
import shutil
import signal
import subprocess
import sys

import numpy as np

WORKER = os.path.join(os.path.dirname(__file__), "resume_worker.py")


def train(*runs, shards=None):
    """Runs the worker once per `(workdir, out, mode)`, all at once.

    The runs are independent processes (deterministic ops, their own
    folders), so they run side by side: most of each is TensorFlow's start.
    With `shards` (a split folder), the worker streams its training data
    from those TFRecord shards instead of Shapes in memory.
    """
    env = dict(os.environ, **({"RESUME_SHARDS": str(shards)} if shards else {}))
    processes = []
    for workdir, out, mode in runs:
        args = [sys.executable, WORKER, str(workdir), str(out)]
        if mode is not None:
            args.append(str(mode))  # a chunk to crash after, or "rewind"
        processes.append(
            subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
    for process in processes:
        _, process.stderr_text = process.communicate(timeout=300)
    return processes


def test_kill_and_resume_matches_uninterrupted(tmp_path):
    check_kill_and_resume(tmp_path)


def check_kill_and_resume(tmp_path, shards=None):
    """Straight, crashed, resumed and rewound runs; see the module docstring."""
    straight, crashed = train(
        (tmp_path / "a", tmp_path / "a.npz", None),
        (tmp_path / "b", tmp_path / "b.npz", 2),
        shards=shards,
    )
    assert straight.returncode == 0, straight.stderr_text[-3000:]
    assert crashed.returncode == -signal.SIGKILL  # really killed, mid-run
    assert not (tmp_path / "b.npz").exists()
    a = np.load(tmp_path / "a.npz")
    # The same crashed run, resumed twice: at the same batch, and replaying
    # the data from the start (the `BackupAndRestore`-only behaviour).
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    resumed = train(
        (tmp_path / "b", tmp_path / "b.npz", None),
        (tmp_path / "c", tmp_path / "c.npz", "rewind"),
        shards=shards,
    )
    for name, run, should_match in zip("bc", resumed, (True, False)):
        assert run.returncode == 0, run.stderr_text[-3000:]
        b = np.load(tmp_path / f"{name}.npz")
        assert int(b["iterations"]) == 12  # only the lost chunks were re-run
        same = all(np.allclose(a[k], b[k], rtol=0, atol=1e-6) for k in a.files)
        # Resuming at the same batch reproduces the uninterrupted weights;
        # replaying the data from the start (epoch-only restore) does not.
        assert same == should_match, name


def test_last_chunk_is_shorter_and_a_finished_run_trains_no_more(tmp_path):
    import keras

    from vlpk.jobs.resume import fit_resumable

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def dataset():
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = fit_resumable(model, dataset, 5, 2, str(tmp_path / "backup"), verbose=0)
    assert int(model.optimizer.iterations) == 5  # 2 + 2 + 1, not 6
    assert len(history.history["loss"]) == 3
    history = fit_resumable(model, dataset, 5, 2, str(tmp_path / "backup"), verbose=0)
    assert int(model.optimizer.iterations) == 5
    assert history.history == {}
