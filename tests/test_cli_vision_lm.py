"""`vlpk pretrain` on the LLaVA configs, with tiny local KerasHub LM presets."""

import json
import os

import keras_hub
import numpy as np
import pytest

from tests.language_models import save_lm_preset
from vlpk.cli import main
from vlpk.models.presets import load_task
from vlpk.models.vision_lm.adapters import load_adapters

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "training", "configs")
ALIGN = os.path.join(CONFIGS, "shapes_llava_align.py")
INSTRUCT = os.path.join(CONFIGS, "shapes_llava_instruct.py")


def pretrain(config, workdir, *sets, data_dir=None):
    args = ["pretrain", "--config", config, "--smoke", "--workdir", str(workdir)]
    for assignment in sets:
        args += ["--set", assignment]
    if data_dir:
        args += ["--data-dir", str(data_dir)]
    return main(args)


def read_metrics(workdir):
    with open(os.path.join(workdir, "metrics.json")) as f:
        return json.load(f)


def test_alignment_then_lora_instruction_tuning(tmp_path, capsys):
    lm_preset = tmp_path / "llama"
    save_lm_preset(lm_preset, "llama")
    align = tmp_path / "align"
    assert pretrain(ALIGN, align, f"llm.preset={lm_preset}") == 0
    # The summary is the last thing printed, after `fit`'s progress lines.
    out = capsys.readouterr().out
    summary = json.loads(out[out.rindex("\n{\n") :])
    assert summary["stage"] == "alignment" and set(summary["pope"]) == {
        "random",
        "popular",
        "adversarial",
    }
    # Alignment trains the connector and the image encoder; the LM stays
    # exactly the preset's.
    base = keras_hub.models.Backbone.from_preset(str(lm_preset))
    aligned = load_task(str(align / "preset"))
    for before, after in zip(base.weights, aligned.backbone.language_model.weights):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    metrics = read_metrics(align)
    assert metrics["trainable"]["llm"] == "frozen"
    assert {"overall", "questions"} <= set(metrics["vqa"])
    assert "CIDEr" in metrics["caption"]

    instruct = tmp_path / "instruct"
    sets = (f"init_from={align}", "llm.tuning=lora")
    assert pretrain(INSTRUCT, instruct, *sets, data_dir=align / "shapes") == 0
    assert read_metrics(instruct)["trainable"]["llm"] == "lora"
    # The adapters, loaded into the aligned model, are the tuned model; the
    # preset holds it with the adapters merged into the kernels.
    merged = load_task(str(instruct / "preset"))
    assert not any("lora" in w.path for w in merged.weights)
    load_adapters(aligned, str(instruct / "adapters"))
    inputs = {
        "images": np.full((2, 32, 32, 3), 128, "uint8"),
        "prompts": np.array(["how many shapes are there?", "Describe the image."]),
        "responses": np.array(["2", "a red circle"]),
    }
    np.testing.assert_allclose(
        aligned.predict(inputs, verbose=0), merged.predict(inputs, verbose=0), atol=1e-4
    )

    check_export_answers_as_generate(tmp_path, instruct, align, merged, capsys)


def check_export_answers_as_generate(tmp_path, run, align, task, capsys):
    """Export, then answer through TF Serving's loader (`vlpk predict`)."""
    exports = tmp_path / "saved_models"
    capsys.readouterr()  # the training run's output
    assert (
        main(
            [
                "export",
                "--from",
                str(run),
                "--name",
                "llava",
                "--export-dir",
                str(exports),
            ]
        )
        == 0
    )
    exported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert exported["signatures"] == ["caption", "generate", "serving_default"]
    image = sorted((align / "shapes" / "images" / "test").iterdir())[0]
    question = "how many shapes are there?"
    assert (
        main(
            [
                "predict",
                "--model",
                exported["path"],
                "--image",
                str(image),
                "--prompt",
                question,
            ]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    expected = task.generate(
        {"images": image.read_bytes(), "prompts": question}, strip_prompt=True
    )
    assert answer["prompt"] == question and answer["text"] == expected.strip()


@pytest.mark.slow
def test_a_local_gpt2_preset_instruction_tunes_fully(tmp_path, capsys):
    lm_preset = tmp_path / "gpt2"
    save_lm_preset(lm_preset, "gpt2")
    assert pretrain(INSTRUCT, tmp_path / "run", f"llm.preset={lm_preset}") == 0
    metrics = read_metrics(tmp_path / "run")
    assert metrics["trainable"]["llm"] == "trains"
    assert metrics["train_loss"][-1] < 20
    task = load_task(str(tmp_path / "run" / "preset"))
    check_export_answers_as_generate(
        tmp_path, tmp_path / "run", tmp_path / "run", task, capsys
    )


def test_a_bad_stage_is_refused_before_any_work(tmp_path):
    assert (
        main(
            [
                "pretrain",
                "--config",
                INSTRUCT,
                "--smoke",
                "--workdir",
                str(tmp_path / "run"),
                "--set",
                "stage=pretraining",
            ]
        )
        == 2
    )
    assert not (tmp_path / "run").exists()
