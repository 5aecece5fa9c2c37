"""Scoring a vision-LM stage on a test split of conversation shards.

Shapes' questions have reference answers that the official VQA accuracy,
CIDEr and POPE score (`vlpk.jobs.vision_lm_eval`). A user's conversations
have free-form answers, which LLaVA scores with a GPT judge. The run gives
what needs no judge:

- the loss and answer-token accuracy on every test pair, teacher-forced,
  with the training loss's weighting (answer tokens only);
- generated answers for the first test pairs, in the answers file of
  LLaVA's `llava/eval/model_vqa.py` (one JSON line each: `question_id`,
  `prompt`, `text`, `answer_id`, `model_id`, `metadata`), the reference
  answer in `metadata`, for LLaVA's judge or any other scorer.
"""

import hashlib
import json
import math
import os

from vlpk.data.shards.shard_splits import protocol
from vlpk.jobs.pretrain import preprocessed_inputs
from vlpk.jobs.vision_lm_eval import generate_texts
from vlpk.jobs.vision_lm_shards import (
    answer_count,
    conversation_batches,
    conversation_pairs,
)

ANSWERS_FILE = "answers.jsonl"


def evaluate_conversations(task, split, pairs, out_dir, model_id, batch_size=32):
    """Teacher-forced test figures, and `pairs` generated answers.

    Args:
        task: a compiled `VisionCausalLM` with its preprocessor.
        split: the test `ShardSplit` (LLaVA conversations).
        pairs: how many test pairs (the first ones, in order) to answer.
        out_dir: where `answers.jsonl` goes.
        model_id: the answers file's `model_id` (the run's name).

    Returns:
        `{"protocol", "test_loss", "test_answer_accuracy", "answers",
        "answers_file"}`.
    """
    if not task.compiled:  # reloaded from its preset after multi-worker
        task.compile()
    preprocessor = task.preprocessor
    batches = conversation_batches(split, preprocessor, batch_size, training=False)
    # The count makes the steps known: Keras warns on a stream that ends.
    steps = math.ceil(answer_count(split) / batch_size)
    with preprocessed_inputs(task):  # the batches are preprocessed already
        figures = task.evaluate(batches, steps=steps, return_dict=True, verbose=0)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, ANSWERS_FILE)
    written = _write_answers(task, split, pairs, path, model_id, batch_size)
    return {
        "protocol": protocol(split.manifest),
        "test_loss": float(figures["loss"]),
        "test_answer_accuracy": float(figures["sparse_categorical_accuracy"]),
        "answers": written,
        "answers_file": path,
    }


def _write_answers(task, split, pairs, path, model_id, batch_size):
    """Generates the first `pairs` answers and writes them; returns the count."""
    sample = list(
        conversation_pairs(split, task.preprocessor.prompt_template)
        .take(pairs)
        .as_numpy_iterator()
    )
    prompts = [pair["prompts"].decode() for pair in sample]
    texts = generate_texts(
        task,
        [pair["images"] for pair in sample],
        prompts,
        batch_size,
        "test answers",
    )
    with open(path, "w", encoding="utf-8") as f:
        for index, (pair, prompt, text) in enumerate(zip(sample, prompts, texts)):
            line = {
                "question_id": index,
                "prompt": prompt,
                "text": text,
                # LLaVA draws a random shortuuid; a digest keeps reruns equal.
                "answer_id": _answer_id(model_id, index, text),
                "model_id": model_id,
                "metadata": {"reference": pair["responses"].decode()},
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return len(sample)


def _answer_id(model_id, index, text):
    digest = hashlib.sha1(f"{model_id}\0{index}\0{text}".encode()).hexdigest()
    return digest[:22]
