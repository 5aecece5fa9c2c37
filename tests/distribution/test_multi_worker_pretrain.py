"""`vlpk pretrain` with `strategy=multi_worker`: two localhost workers."""

import json
import os
import subprocess
import sys

import pytest

from tests.distribution.workers import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_albef_smoke_pretrains_on_two_workers(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        )
        command = [
            sys.executable, "-m", "vlpk.cli", "pretrain",
            "--config", os.path.join(ROOT, "training/configs/shapes_albef.py"),
            "--smoke", "--set", "distribution.strategy=multi_worker",
            "--workdir", str(tmp_path / f"worker{index}"),
            "--export-dir", str(tmp_path / f"export{index}"),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    chief = json.load(open(tmp_path / "worker0" / "metrics.json"))
    history = chief["train_history"]
    assert len(history["loss"]) == 2  # one value per step on the trainer path
    assert "matching_accuracy" in chief["validation"]
    assert not os.path.exists(tmp_path / "worker1" / "metrics.json")
    assert os.path.isdir(tmp_path / "export0" / "shapes_albef" / "1")
