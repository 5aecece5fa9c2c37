"""Scoring a vision-language LM on Shapes by what it writes.

Every score comes from generated text, scored by the reference tool's
rules: VQA answers by the official VQA accuracy, captions by pycocoevalcap's
CIDEr, POPE's yes/no answers by POPE's own parsing and counts. The results
files are written in those tools' formats, so `vlpk evaluate vqa|caption|
pope` re-scores them.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

from vlpk.data.shapes.conversations import DESCRIBE
from vlpk.data.shapes.layout import shapes_paths
from vlpk.data.shapes.pope import write_pope_files
from vlpk.data.shapes.reader import read_shapes, read_shapes_vqa
from vlpk.metrics.captioning import coco_caption_scores
from vlpk.metrics.pope import pope_scores, read_pope_questions
from vlpk.metrics.result_files import read_vqa_ground_truth
from vlpk.metrics.vqa import vqa_accuracy
from vlpk.models.vision_lm import VisionCausalLM


def _say(message):
    print(message, file=sys.stderr, flush=True)


def generate_texts(task, image_paths, prompts, batch_size=32, what="answers"):
    """`task.generate` over `(image, prompt)` pairs, in batches.

    An image is a file path, or its encoded bytes.

    `task` is a `VisionCausalLM`, which decodes image bytes itself, or one
    of KerasHub's ready vision LMs (`PaliGemmaCausalLM`), which takes
    pixels: the images are decoded for it here.

    Returns the generated texts (the prompt stripped), one per pair; says
    how far it has got on stderr.
    """
    texts = []
    for start in range(0, len(prompts), batch_size):
        end = min(start + batch_size, len(prompts))
        images = [
            image if isinstance(image, bytes) else _read(image)
            for image in image_paths[start:end]
        ]
        batch = {
            "images": _images_for(task, images),
            "prompts": np.array(prompts[start:end], dtype=object),
        }
        texts.extend(t.strip() for t in task.generate(batch, strip_prompt=True))
        _say(f"      {what}: {end}/{len(prompts)}")
    return texts


def _images_for(task, images):
    """Image bytes for a `VisionCausalLM`; pixels `[B, H, W, 3]` for KerasHub's."""
    if isinstance(task, VisionCausalLM):
        return np.array(images, dtype=object)
    converter = getattr(task.preprocessor, "image_converter", None)
    size = getattr(converter, "image_size", None)
    pixels = []
    for data in images:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        if size is not None:  # so images of any size stack
            image = tf.image.resize(image, size)
        pixels.append(tf.cast(image, "float32").numpy())
    return np.stack(pixels)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def evaluate_vision_lm(task, data_dir, split, images, out_dir, batch_size=32):
    """Generated VQA accuracy, caption metrics and POPE on `images` of `split`.

    Args:
        task: a `VisionCausalLM` with its preprocessor, or a KerasHub
            `PaliGemmaCausalLM` (a ready model, scored the same way).
        data_dir: a Shapes root (`write_shapes`).
        split: the split scored, e.g. `"test"`.
        images: how many of its images (the first ones) are scored.
        out_dir: where `vqa_results.json`, `caption_results.json` and
            `pope/` (questions and answers) go.

    Returns:
        `{"vqa": vqa_accuracy, "caption": coco_caption_scores, "pope":
        {strategy: pope_scores}}`.
    """
    captioned = read_shapes(data_dir, split)[:images]
    kept = {e.image_id for e in captioned}
    os.makedirs(out_dir, exist_ok=True)
    return {
        "vqa": _vqa(task, data_dir, split, kept, out_dir, batch_size),
        "caption": _captions(task, captioned, out_dir, batch_size),
        "pope": _pope(task, data_dir, split, captioned, out_dir, batch_size),
    }


def _vqa(task, data_dir, split, kept, out_dir, batch_size):
    questions = [q for q in read_shapes_vqa(data_dir, split) if q.image_id in kept]
    answers = generate_texts(
        task,
        [q.image_path for q in questions],
        [q.question for q in questions],
        batch_size,
        "VQA answers",
    )
    results = [
        {"question_id": int(q.question_id), "answer": a}
        for q, a in zip(questions, answers)
    ]
    _write(os.path.join(out_dir, "vqa_results.json"), results)
    paths = shapes_paths(data_dir, split)
    truth = read_vqa_ground_truth(paths["questions"], paths["annotations"])
    truth = {q.question_id: truth[q.question_id] for q in questions}
    return vqa_accuracy({r["question_id"]: r["answer"] for r in results}, truth)


def _captions(task, captioned, out_dir, batch_size):
    captions = generate_texts(
        task,
        [e.image_path for e in captioned],
        [DESCRIBE] * len(captioned),
        batch_size,
        "captions",
    )
    results = [
        {"image_id": e.image_id, "caption": c} for e, c in zip(captioned, captions)
    ]
    _write(os.path.join(out_dir, "caption_results.json"), results)
    references = {e.image_id: list(e.captions) for e in captioned}
    # An empty caption is a valid (bad) answer; the scorers need a word.
    candidates = {r["image_id"]: r["caption"] or "." for r in results}
    return coco_caption_scores(references, candidates)


def _pope(task, data_dir, split, captioned, out_dir, batch_size):
    folder = os.path.join(out_dir, "pope")
    files = write_pope_files(data_dir, folder, split=split)
    image_dir = shapes_paths(data_dir, split)["images_dir"]
    names = {os.path.basename(e.image_path) for e in captioned}
    scores = {}
    for strategy, path in files.items():
        questions = [q for q in read_pope_questions(path) if q["image"] in names]
        answers = generate_texts(
            task,
            [os.path.join(image_dir, q["image"]) for q in questions],
            [q["text"] for q in questions],
            batch_size,
            f"POPE {strategy}",
        )
        results = [
            {"question_id": q["question_id"], "answer": a}
            for q, a in zip(questions, answers)
        ]
        _write(os.path.join(folder, f"answers_{strategy}.json"), results)
        scores[strategy] = pope_scores(questions, results)
    return scores


def _write(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
