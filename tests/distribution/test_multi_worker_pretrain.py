"""`vlpk pretrain` with `strategy=multi_worker`: two localhost workers."""

import json
import os

import pytest

from tests.distribution.workers import run_cli_workers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_albef_smoke_pretrains_on_two_workers(tmp_path):
    config = os.path.join(ROOT, "training/configs/shapes_albef.py")
    run_cli_workers(
        lambda index: [
            "pretrain",
            "--config",
            config,
            "--smoke",
            "--set",
            "distribution.strategy=multi_worker",
            "--workdir",
            str(tmp_path / f"worker{index}"),
            "--export-dir",
            str(tmp_path / f"export{index}"),
        ]  # fmt: skip
    )
    chief = json.load(open(tmp_path / "worker0" / "metrics.json"))
    history = chief["train_history"]
    assert len(history["loss"]) == 2  # one value per step on the trainer path
    assert "matching_accuracy" in chief["validation"]
    assert not os.path.exists(tmp_path / "worker1" / "metrics.json")
    assert os.path.isdir(tmp_path / "export0" / "shapes_albef" / "1")
