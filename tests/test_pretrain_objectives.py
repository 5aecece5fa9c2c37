"""`vlpk pretrain` end to end on the ALBEF and CoCa smoke configs.

Each run trains every objective of its config, evaluates the heads, logs to
TensorBoard and exports. The ALBEF run is also killed mid-way and resumed:
it must end with the uninterrupted run's weights.
"""

import json
import os
import signal

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from tests.pretrain_runs import pretrain
from vlpk.models import load_task

# The session's smoke pretraining runs (the `pretrain_runs` fixture) start once:
# under pytest-xdist, every test that reads them runs on the same worker.
pytestmark = pytest.mark.xdist_group("pretrain_runs")


def scalars(log_dir):
    """Every scalar tag written under `log_dir`, by run subfolder."""
    tags = {}
    for run in os.listdir(log_dir):
        path = os.path.join(log_dir, run)
        if not os.path.isdir(path):
            continue
        acc = event_accumulator.EventAccumulator(path, size_guidance={"tensors": 0})
        acc.Reload()
        tags[run] = set(acc.Tags()["tensors"]) | set(acc.Tags()["scalars"])
    return tags


def weights(workdir):
    return load_task(os.path.join(workdir, "preset")).get_weights()


@pytest.fixture(scope="module")
def runs(pretrain_runs):
    return pretrain_runs


@pytest.fixture(scope="module")
def albef(runs):
    return runs["workdir"]


def test_albef_trains_and_evaluates_every_head(albef):
    metrics = json.load(open(albef / "metrics.json"))
    assert set(metrics["objectives"]) == {"contrastive", "matching", "masked_lm"}
    validation = metrics["validation"]
    for key in ("matching_accuracy", "masked_lm_accuracy", "matching_loss"):
        assert 0.0 <= validation[key] <= 1.0 or key.endswith("loss"), key
        assert np.isfinite(validation[key]), key
    history = metrics["train_history"]
    for key in ("contrastive_loss", "matching_loss", "masked_lm_loss"):
        assert len(history[key]) == 4 and np.all(np.isfinite(history[key]))
    assert metrics["steps"] == 4


def test_albef_logs_each_objective_and_the_extras_to_tensorboard(albef):
    logs = albef / "logs"
    tags = scalars(logs)
    train = tags["train"]
    for tag in (
        "epoch_contrastive_loss",
        "epoch_matching_loss",
        "epoch_masked_lm_loss",
        "epoch_learning_rate",
        "epoch_temperature",
    ):
        assert tag in train, (tag, sorted(train))
    # Keras writes `val_*` logs to the validation run, without the prefix.
    for tag in ("epoch_i2t_r1", "epoch_t2i_r1", "epoch_matching_accuracy"):
        assert tag in tags["validation"], (tag, sorted(tags["validation"]))
    # The projector has a run of its own; none of its files sit in the root.
    assert os.path.exists(logs / "projector" / "projector_config.pbtxt")
    assert os.path.exists(logs / "projector" / "metadata.tsv")
    assert not os.path.exists(logs / "checkpoint")
    assert {"images", "outputs"} <= tags["samples"]
    acc = event_accumulator.EventAccumulator(
        str(logs / "samples"), size_guidance={"tensors": 0}
    )
    acc.Reload()
    table = acc.Tensors("outputs")[-1].tensor_proto.string_val[0].decode()
    # Each sample image with its nearest caption and the matching head's verdict.
    assert table.count("match p=") == 4, table


def test_albef_resumes_after_kill_at_the_same_weights(runs):
    crashed, killed = runs["crashed"], runs["killed"]
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert not os.path.exists(killed / "preset")
    resumed = pretrain("shapes_albef", killed)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    history = json.load(open(killed / "metrics.json"))["train_history"]
    assert len(history["loss"]) == 2  # only the chunks after the checkpoint
    for a, b in zip(weights(runs["workdir"]), weights(killed)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_coca_trains_captions_and_scores_bleu(runs):
    run, workdir = runs["coca"], runs["coca_workdir"]
    assert run.returncode == 0, run.stderr[-4000:]
    metrics = json.load(open(workdir / "metrics.json"))
    validation = metrics["validation"]
    assert 0.0 <= validation["caption_bleu4"] <= 100.0
    assert 0.0 <= validation["captioning_accuracy"] <= 1.0
    samples = validation["caption_samples"]
    assert samples and all(isinstance(s["generated"], str) for s in samples)
    train = scalars(workdir / "logs")["train"]
    assert "epoch_captioning_loss" in train and "epoch_contrastive_loss" in train
