"""KerasHub CLIP and SigLIP presets through the CLI: finetune, evaluate, export.

The preset folders are the tiny ones of `tests/keras_hub_presets.py`, saved
with KerasHub's own `save_to_preset`, as a user's downloaded preset would be.
"""

import json
import socket

import numpy as np
import pytest
import tensorflow as tf

from vlpk.cli import main
from vlpk.data.synthetic import read_shapes
from vlpk.models import ContrastivePretrainer, ZeroShotImageClassifier, load_task

SIGNATURES = ["embed_image", "embed_text", "score", "serving_default"]


def _json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _cli_round_trip(preset, tmp_path, capsys):
    """finetune → evaluate (retrieval, zero-shot) → export, through `main`."""
    run, data = tmp_path / "run", str(tmp_path / "shapes")
    finetune = ["finetune", "--task", "retrieval", "--from", str(preset.path)]
    finetune += ["--smoke", "--workdir", str(run), "--data-dir", data]
    assert main(finetune + ["--json", str(tmp_path / "finetune.json")]) == 0
    metrics = _json(tmp_path / "finetune.json")
    assert np.all(np.isfinite(metrics["train_loss"]))
    assert (run / "preset" / "task.json").is_file()
    assert (run / "preset" / "metadata.json").is_file()

    # The saved task, reloaded from the run folder, scores exactly as the
    # fine-tuned one did in the job: same weights, same preprocessing.
    evaluate = ["evaluate", "retrieval", "--from", str(run)]
    assert main(evaluate + ["--json", str(tmp_path / "retrieval.json")]) == 0
    retrieval = _json(tmp_path / "retrieval.json")
    assert retrieval["contrastive"] == pytest.approx(metrics["contrastive"])
    zeroshot = ["evaluate", "zeroshot", "--from", str(run)]
    assert main(zeroshot + ["--json", str(tmp_path / "zeroshot.json")]) == 0
    assert 0.0 <= _json(tmp_path / "zeroshot.json")["zero_shot"]["top1"] <= 100.0
    capsys.readouterr()

    export = ["export", "--from", str(run), "--name", "clip"]
    assert main(export + ["--export-dir", str(tmp_path / "saved")]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["signatures"] == SIGNATURES
    return run, data, exported["path"]


def _check_export(run, data, path):
    """The SavedModel embeds raw JPEG bytes as the reloaded task does."""
    task = load_task(run / "preset")
    assert isinstance(task, ContrastivePretrainer)
    examples = read_shapes(data, "test")[:3]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    texts = [e.captions[0] for e in examples]
    served = tf.saved_model.load(path)
    image = served.embed_image(tf.constant(images))["image_embedding"]
    text = served.embed_text(tf.constant(texts))["text_embedding"]
    inputs, _ = task.preprocessor(
        {"images": np.array(images, dtype=object), "text": np.array(texts)}
    )
    outputs = task.backbone(inputs)
    np.testing.assert_allclose(image, outputs["image_embedding"], atol=1e-5)
    np.testing.assert_allclose(text, outputs["text_embedding"], atol=1e-5)


def _classify(run, data, tmp_path, capsys):
    """finetune --task classify from a run folder, then export `classify`."""
    classify = tmp_path / "classify"
    args = ["finetune", "--task", "classify", "--from", str(run), "--smoke"]
    args += ["--workdir", str(classify), "--data-dir", data]
    assert main(args + ["--json", str(tmp_path / "classify.json")]) == 0
    metrics = _json(tmp_path / "classify.json")
    assert set(metrics) >= {"zero_shot", "finetuned"}
    assert metrics["zero_shot"]["images"] == metrics["finetuned"]["images"] == 8
    capsys.readouterr()
    export = ["export", "--from", str(classify), "--name", "classifier"]
    assert main(export + ["--export-dir", str(tmp_path / "saved")]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["signatures"] == ["classify", "serving_default"]

    classifier = load_task(classify / "preset")
    assert isinstance(classifier, ZeroShotImageClassifier)
    examples = read_shapes(data, "test")[:3]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    served = tf.saved_model.load(exported["path"]).signatures["classify"]
    probabilities = served(image_bytes=tf.constant(images))["probabilities"]
    logits = classifier.predict(np.array(images, dtype=object), verbose=0)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(logits), atol=1e-5)


def test_siglip_preset_finetunes_evaluates_and_exports(
    keras_hub_siglip_preset, tmp_path, capsys
):
    run, data, path = _cli_round_trip(keras_hub_siglip_preset, tmp_path, capsys)
    _check_export(run, data, path)


# The classifier task from a preset through the CLI: about 20 s more on two
# CPUs (the task itself is tested in tests/models/). `pytest -m slow`.
@pytest.mark.slow
def test_siglip_preset_classifier_finetunes_and_exports(
    keras_hub_siglip_preset, tmp_path, capsys
):
    run, data, _ = _cli_round_trip(keras_hub_siglip_preset, tmp_path, capsys)
    _classify(run, data, tmp_path, capsys)


@pytest.mark.slow
def test_clip_preset_finetunes_evaluates_and_exports(
    keras_hub_clip_preset, tmp_path, capsys
):
    run, data, path = _cli_round_trip(keras_hub_clip_preset, tmp_path, capsys)
    _check_export(run, data, path)


def test_offline_preset_name_says_how_to_pass_a_folder(monkeypatch, tmp_path, capsys):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    args = ["evaluate", "zeroshot", "--from", "clip_vit_base_patch16"]
    assert main(args + ["--data-dir", str(tmp_path / "shapes")]) == 2
    error = capsys.readouterr().err
    assert "clip_vit_base_patch16" in error and "folder" in error
    assert "Traceback" not in error


def test_a_run_folder_without_preset_is_not_a_task(tmp_path):
    from vlpk.jobs.task_runs import task_preset_path

    (tmp_path / "run").mkdir()
    assert task_preset_path(str(tmp_path / "run")) is None
    assert task_preset_path("clip_vit_base_patch16") == "clip_vit_base_patch16"
