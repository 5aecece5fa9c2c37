"""A vision-LM stage from LLaVA conversation shards, all through the CLI.

The tests write Shapes as LLaVA JSON (`write_llava_json`), convert it with
`vlpk data convert --format llava`, and train and score a stage on the
shards with `vlpk pretrain --set data.train=...`.
"""

import json
import os

import numpy as np
import pytest

from tests.language_models import save_lm_preset
from vlpk.cli import main
from vlpk.data.shapes.conversations import write_llava_json
from vlpk.data.shapes.writer import write_shapes
from vlpk.errors import InputError
from vlpk.jobs.vision_lm_shards import (
    answer_count,
    conversation_batches,
    conversation_pairs,
    open_conversations,
)
from vlpk.models.vision_lm import VisionLMPreprocessor

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "training", "configs")
INSTRUCT = os.path.join(CONFIGS, "shapes_llava_instruct.py")
ALIGN = os.path.join(CONFIGS, "shapes_llava_align.py")


def convert_llava(shapes, split, out):
    written = write_llava_json(shapes / "images" / split, shapes / f"{split}.json")
    args = ["data", "convert", "--format", "llava", "--out", str(out), "--split", split]
    args += ["--images", written["images_dir"], "--annotations", written["path"]]
    assert main(args) == 0
    return written


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """`(shards root, Shapes root)`: train and test conversation shards."""
    root = tmp_path_factory.mktemp("llava_shards")
    shapes = root / "shapes"
    write_shapes(
        shapes, seed=3, image_size=32, splits={"train": 24, "test": 4}, progress=False
    )
    for split in ("train", "test"):
        convert_llava(shapes, split, root / "shards" / split)
    return root / "shards", shapes


def pretrain(config, workdir, *sets):
    """`vlpk pretrain --smoke` with `--set` assignments; returns the exit code."""
    args = ["pretrain", "--config", config, "--smoke", "--workdir", str(workdir)]
    for assignment in sets:
        args += ["--set", assignment]
    return main(args)


def llava_records(shapes, split):
    with open(shapes / f"{split}.json") as f:
        return json.load(f)


def test_the_manifest_counts_the_answers(shards):
    root, shapes = shards
    split = open_conversations(root / "train")
    records = llava_records(shapes, "train")
    answers = sum(t["from"] == "gpt" for r in records for t in r["conversations"])
    assert answer_count(split) == answers > len(records)
    # A manifest of an older vlpk, with no count: counted from the records.
    counted = split.__class__(split.path, {**split.manifest})
    del counted.manifest["answers"]
    assert answer_count(counted) == answers


def test_pairs_carry_the_history_in_the_chat_template(shards):
    root, shapes = shards
    record = llava_records(shapes, "train")[0]
    turns = [t["value"].replace("<image>", "").strip() for t in record["conversations"]]
    split = open_conversations(root / "train")
    template = "USER: {prompt} ASSISTANT:"
    first, second = list(conversation_pairs(split, template).take(2))
    assert first["prompts"].numpy().decode() == turns[0]
    # The preprocessor adds "USER: " and " ASSISTANT:" around the whole.
    assert second["prompts"].numpy().decode() == (
        f"{turns[0]} ASSISTANT:{turns[1]}\nUSER: {turns[2]}"
    )
    assert second["responses"].numpy().decode() == turns[3]


def test_batches_hold_only_answer_targets(shards):
    root, _ = shards
    split = open_conversations(root / "train")
    from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
    from vlpk.text.sentencepiece import learn_sentencepiece

    texts = [
        "what shape is it? a circle",
        "how many shapes are there? 2",
        "Describe the image. a red square",
    ] * 20
    preprocessor = VisionLMPreprocessor(
        learn_sentencepiece(texts, 320), ImagePreprocessor(32), sequence_length=48
    )
    x, y, weights = next(iter(conversation_batches(split, preprocessor, 4, seed=1)))
    assert x["token_ids"].shape[0] == 4 and y.shape == weights.shape
    assert 0 < float(np.mean(weights)) < 1  # the prompts weigh nothing


def test_other_shards_are_refused_with_the_fix(tmp_path):
    folder = tmp_path / "coco"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": "coco"}))
    with pytest.raises(InputError, match="--format llava"):
        open_conversations(folder)


def test_instruction_tuning_trains_and_scores_on_shards(shards, tmp_path, capsys):
    root, _ = shards
    lm_preset = tmp_path / "llama"
    save_lm_preset(lm_preset, "llama")
    workdir = tmp_path / "run"
    assert (
        pretrain(
            INSTRUCT, workdir, f"data.train={root / 'train'}", f"llm.preset={lm_preset}"
        )
        == 0
    )
    out = capsys.readouterr().out
    summary = json.loads(out[out.rindex("\n{\n") :])
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["pairs"] == answer_count(open_conversations(root / "train"))
    test = metrics["test"]
    assert test["protocol"] == "llava test"
    assert np.isfinite(test["test_loss"]) and 0 <= test["test_answer_accuracy"] <= 1
    assert summary["test_loss"] == round(test["test_loss"], 4)
    lines = (workdir / "eval" / "answers.jsonl").read_text().splitlines()
    answers = [json.loads(line) for line in lines]
    # LLaVA's `model_vqa.py` answers file: one line per generated answer.
    assert len(answers) == test["answers"] == 4
    assert set(answers[0]) == {
        "question_id",
        "prompt",
        "text",
        "answer_id",
        "model_id",
        "metadata",
    }
    assert answers[0]["prompt"] == "Describe the image."
    assert (workdir / "preset").is_dir()


def test_alignment_learns_its_tokenizer_from_the_shards(shards, tmp_path):
    """No LM preset: the tokenizer is learned on the shards' text."""
    root, _ = shards
    workdir = tmp_path / "align"
    sets = (f"data.train={root / 'train'}", f"data.test={root / 'test'}")
    assert pretrain(ALIGN, workdir, *sets, "llm.text_epochs=0") == 0
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["trainable"]["llm"] == "frozen"
    assert np.isfinite(metrics["train_loss"]).all()
