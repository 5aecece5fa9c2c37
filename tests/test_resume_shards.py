"""A run on TFRecord shards, killed with SIGKILL and resumed, ends with the
uninterrupted weights.

The same test as `test_resume.py`, but the batches stream from shards
(`ShardSplit` through `pretraining_dataset`): the parallel interleave of
several shards, the seeded record and pair shuffles and the `ignore_errors`
stages must give the same stream on every start for `skip` to land on the
right batch.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.flickr8k_files import write_flickr8k

WORKER = os.path.join(os.path.dirname(__file__), "resume_shards_worker.py")


@pytest.fixture(scope="module")
def train_shards(tmp_path_factory):
    """The training split folder of a tiny Flickr8k, several shards of 4."""
    from vlpk.data.formats import convert_dataset

    root = tmp_path_factory.mktemp("flickr8k")
    karpathy, images = write_flickr8k(
        root / "raw", splits={"train": 24, "val": 4, "test": 4}, image_size=64
    )
    convert_dataset(
        "karpathy", karpathy, images, root / "shards", verbose=0, shard_size=4
    )
    train = root / "shards" / "train"
    with open(train / "manifest.json") as f:
        assert len(json.load(f)["shards"]) >= 4  # the interleave has work to do
    return train


def train(shards, *runs):
    """Runs the worker once per `(workdir, out, mode)`, all at once."""
    processes = []
    for workdir, out, mode in runs:
        args = [sys.executable, WORKER, str(shards), str(workdir), str(out)]
        if mode is not None:
            args.append(str(mode))  # a chunk to crash after, or "rewind"
        processes.append(
            subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for process in processes:
        _, process.stderr_text = process.communicate(timeout=300)
    return processes


def test_kill_and_resume_on_shards_matches_uninterrupted(tmp_path, train_shards):
    straight, crashed = train(
        train_shards,
        (tmp_path / "a", tmp_path / "a.npz", None),
        (tmp_path / "b", tmp_path / "b.npz", 2),
    )
    assert straight.returncode == 0, straight.stderr_text[-3000:]
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr_text[-3000:]
    assert not (tmp_path / "b.npz").exists()
    a = np.load(tmp_path / "a.npz")
    assert int(a["iterations"]) == 12
    # The same crashed run, resumed twice: at the same batch, and replaying
    # the data from the start (the `BackupAndRestore`-only behaviour).
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    resumed = train(
        train_shards,
        (tmp_path / "b", tmp_path / "b.npz", None),
        (tmp_path / "c", tmp_path / "c.npz", "rewind"),
    )
    for name, run, should_match in zip("bc", resumed, (True, False)):
        assert run.returncode == 0, run.stderr_text[-3000:]
        b = np.load(tmp_path / f"{name}.npz")
        assert int(b["iterations"]) == 12  # only the lost chunks were re-run
        same = all(np.allclose(a[k], b[k], rtol=0, atol=1e-6) for k in a.files)
        assert same == should_match, name
