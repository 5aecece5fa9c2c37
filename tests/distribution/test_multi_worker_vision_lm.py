"""`vlpk pretrain` on the LLaVA configs under `multi_worker`: two workers.

The alignment smoke pretrains its Llama on the stage's text, then trains the
connector; instruction tuning then trains LoRA adapters. All of it runs on
`DistributedTrainer` (Keras 3.15's `fit` fails under
MultiWorkerMirroredStrategy, keras#20585); the chief saves and scores.
"""

import json
import os

import pytest

from tests.distribution.workers import run_cli_workers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(ROOT, "training", "configs")
ALIGN = os.path.join(CONFIGS, "shapes_llava_align.py")
INSTRUCT = os.path.join(CONFIGS, "shapes_llava_instruct.py")


def run_two_workers(config, workdir, *sets):
    """Runs `vlpk pretrain --smoke` as worker 0 and 1; returns their stderr."""

    def args_for(index):
        args = [
            "pretrain", "--config", config, "--smoke",
            "--set", "distribution.strategy=multi_worker",
            "--workdir", str(workdir / f"worker{index}"),
        ]  # fmt: skip
        for assignment in sets:
            args += ["--set", assignment]
        return args

    return run_cli_workers(args_for)


@pytest.mark.slow
def test_llava_two_stages_train_on_two_workers(tmp_path):
    align = tmp_path / "align"
    logs = run_two_workers(ALIGN, align)
    assert "DistributedTrainer (keras#20585)" in logs[0]
    chief = json.load(open(align / "worker0" / "metrics.json"))
    assert len(chief["train_loss"]) == 2  # one value a step on the trainer
    assert set(chief["pope"]) == {"random", "popular", "adversarial"}
    assert os.path.isdir(align / "worker0" / "preset")
    assert os.path.isdir(align / "worker0" / "llm_preset")
    for written in ("metrics.json", "preset", "llm_preset"):
        assert not os.path.exists(align / "worker1" / written)

    # Instruction tuning with LoRA from the chief's alignment run.
    instruct = tmp_path / "instruct"
    run_two_workers(
        INSTRUCT, instruct, f"init_from={align / 'worker0'}", "llm.tuning=lora"
    )
    chief = json.load(open(instruct / "worker0" / "metrics.json"))
    assert chief["trainable"]["llm"] == "lora" and len(chief["train_loss"]) == 2
    assert os.path.isfile(instruct / "worker0" / "adapters" / "lora.lora.h5")
    assert os.path.isfile(instruct / "worker0" / "model.keras")
    assert not os.path.exists(instruct / "worker1" / "adapters")


@pytest.mark.slow
def test_instruction_tuning_on_conversation_shards_on_two_workers(tmp_path):
    """Both workers stream the same shards (TF's DATA sharding: see
    `vlpk.data.shards.reading.read_records`); the chief scores the test split."""
    from tests.test_vision_lm_shards_end_to_end import convert_llava
    from vlpk.data.shapes.writer import write_shapes

    shapes = tmp_path / "shapes"
    write_shapes(shapes, image_size=32, progress=False, splits={"train": 24, "test": 4})
    for split in ("train", "test"):
        convert_llava(shapes, split, tmp_path / "shards" / split)
    run = tmp_path / "run"
    run_two_workers(INSTRUCT, run, f"data.train={tmp_path / 'shards' / 'train'}")
    chief = json.load(open(run / "worker0" / "metrics.json"))
    assert len(chief["train_loss"]) == 2 and chief["test"]["answers"] == 4
    assert os.path.isfile(run / "worker0" / "eval" / "answers.jsonl")
    assert not os.path.exists(run / "worker1" / "metrics.json")
