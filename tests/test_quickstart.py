"""End-to-end smoke test of the main job, through the real `vlpk` command."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from vlpk.data.synthetic import read_shapes
from vlpk.evaluation import evaluate_retrieval
from vlpk.models import load_task

# Keras's warning for a dataset of unknown cardinality, and TensorFlow's for
# predict functions rebuilt in every epoch: a new user reads both as bugs.
FALSE_ALARMS = ("ran out of data", "retracing")
RETRIEVAL_KEYS = {"i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"}


def vlpk_command():
    exe = shutil.which("vlpk")
    return [exe] if exe else [sys.executable, "-m", "vlpk.cli"]


def run(args, cwd):
    return subprocess.run(
        vlpk_command() + args, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_quickstart_smoke(tmp_path):
    result = run(["quickstart", "--smoke", "--workdir", "run"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    workdir = tmp_path / "run"
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert RETRIEVAL_KEYS <= set(metrics["retrieval"])
    for key in RETRIEVAL_KEYS:
        assert 0.0 <= metrics["retrieval"][key] <= 100.0
    # Text->image Recall@10 over 8 test images is 100% whatever the model.
    assert metrics["retrieval"]["t2i_r10"] == 100.0
    for name in ("vocab.txt", "config.json", "preset/task.json"):
        assert (workdir / name).is_file(), name
    assert any((workdir / "logs" / "train").iterdir())  # TensorBoard events
    # The export lands in ./saved_models/quickstart/<version>/ by default.
    export = tmp_path / "saved_models" / "quickstart" / "1"
    assert (export / "saved_model.pb").is_file()
    assert "[4/6] Pretraining" in result.stderr  # progress is shown
    assert "image->text" in result.stdout  # the summary table
    # The run leaves its model as a task preset, with its vocabulary: loaded
    # back, it scores the test split exactly as the run did.
    task = load_task(workdir / "preset")
    test = read_shapes(workdir / "shapes", "test")
    preprocessor = task.preprocessor
    again = evaluate_retrieval(
        task, test, preprocessor.image_converter, preprocessor.preprocess_text
    )
    for key in RETRIEVAL_KEYS:
        assert again[key] == metrics["retrieval"][key], key
    vocab = (workdir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert task.preprocessor.tokenizer.get_vocabulary() == vocab

    # A second run reuses the cached data and writes the next version. It
    # trains as the full quickstart does (whole epochs of a finite stream,
    # several of them: 6 x 5 steps of 24 pairs), which is where false alarms
    # used to appear.
    again = run(
        ["quickstart", "--smoke", "--workdir", "run", "--epochs", "6"]
        + ["--set", "optimization.steps_per_epoch=none"]
        + ["--set", "optimization.batch_size=24"],
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr[-4000:]
    assert (tmp_path / "saved_models" / "quickstart" / "2").is_dir()
    assert "wrote train" not in again.stderr  # Shapes was cached, not rewritten
    assert "Epoch 6/6" in again.stdout + again.stderr
    for output in (result, again):
        for alarm in FALSE_ALARMS:
            assert alarm not in output.stdout + output.stderr, alarm


@pytest.mark.parametrize(
    "args, message",
    [
        (["quickstart", "--config", "missing.py"], "No config file"),
        (["quickstart", "--epochs", "0"], "positive integer"),
        (["quickstart", "--set", "loss=triplet"], "Unknown loss"),
        (["pretrain", "--workdir", "x"], "--config"),
    ],
)
def test_bad_input_exits_2(tmp_path, monkeypatch, capsys, args, message):
    # In-process (the smoke test above runs the real command): a bad input
    # must exit before any work, so this costs no TensorFlow start-up.
    from vlpk.cli import main

    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as exit:  # argparse rejects a bad flag itself
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_config_file_with_smoke(tmp_path):
    config = os.path.join(
        os.path.dirname(__file__), "..", "training", "configs", "shapes_tiny.py"
    )
    from vlpk.config import load_config

    full = load_config(config)
    smoke = load_config(config, smoke=True)
    assert full.name == "quickstart" and full.optimization.epochs == 10
    assert smoke.data.train_images < full.data.train_images
    assert smoke.optimization.epochs == 1


@pytest.fixture(scope="module", autouse=True)
def overrides_run(tmp_path_factory):
    """`vlpk pretrain` with overrides, started when this module starts.

    It runs in its own process beside the quickstart test (most of each run
    is TensorFlow's start and tracing); its test waits for it.
    """
    tmp_path = tmp_path_factory.mktemp("overrides")
    config = os.path.join(
        os.path.dirname(__file__), "..", "training", "configs", "shapes_siglip.py"
    )
    args = ["pretrain", "--config", os.path.abspath(config), "--smoke"]
    args += ["--set", "distribution.strategy=mirrored"]
    args += ["--set", "distribution.devices=/cpu:0"]
    args += ["--set", "embedding_dim=12", "--workdir", "run"]
    process = subprocess.Popen(
        vlpk_command() + args,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process, tmp_path
    process.kill()  # a no-op once it finished
    process.communicate()


def test_pretrain_command_with_overrides(overrides_run):
    process, tmp_path = overrides_run
    _, stderr = process.communicate(timeout=600)
    result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert result.returncode == 0, result.stderr[-4000:]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    distribution = saved["distribution"]
    assert saved["loss"] == "siglip" and distribution["strategy"] == "mirrored"
    assert saved["embedding_dim"] == 12 and distribution["devices"] == "/cpu:0"
    assert "siglip contrastive loss" in result.stderr
    assert "1 replica(s)" in result.stderr
    assert (tmp_path / "saved_models" / "shapes_siglip" / "1").is_dir()


def test_config_overrides_are_typed():
    from vlpk.config import PretrainConfig
    from vlpk.errors import InputError

    config = PretrainConfig().override(
        [
            "optimization.epochs=3",
            "image.widths=16,32",
            "distribution.jit_compile=true",
            "optimization.learning_rate=1e-4",
        ]
    )
    assert config.optimization.epochs == 3 and config.image.widths == (16, 32)
    assert config.distribution.jit_compile is True
    assert config.optimization.learning_rate == 1e-4
    with pytest.raises(InputError, match="expected a int"):
        PretrainConfig().override(["optimization.epochs=many"])
    with pytest.raises(InputError, match="config field"):
        PretrainConfig().override(["nonsense=1"])
