"""Writing one split in the COCO captions and VQA v2 formats, plus labels."""

import json
import os

import numpy as np
from PIL import Image

from vlpk.data.shapes.generator import generate_example
from vlpk.data.shapes.layout import FORMAT_VERSION, shapes_paths
from vlpk.data.shapes.scene import CLASS_NAMES

_JPEG_QUALITY = 95


def write_split(root, split, num_images, seed, image_size, first_image_id):
    """Writes the images and annotation files of one split.

    Returns:
        The split's counts: `{"images", "captions", "questions"}`.
    """
    paths = shapes_paths(root, split)
    os.makedirs(paths["images_dir"])
    info = {
        "description": "vlpk synthetic Shapes dataset",
        "version": str(FORMAT_VERSION),
        "split": split,
    }
    images, captions, questions, answers, labels = [], [], [], [], []
    rng = np.random.default_rng(seed)
    for image_id in range(first_image_id, first_image_id + num_images):
        example = generate_example(rng, image_size)
        file_name = f"{image_id:012d}.jpg"
        _write_jpeg(example["image"], os.path.join(paths["images_dir"], file_name))
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": image_size,
                "height": image_size,
            }
        )
        for index, caption in enumerate(example["captions"]):
            captions.append(
                {"id": image_id * 10 + index, "image_id": image_id, "caption": caption}
            )
        for index, question in enumerate(example["questions"]):
            # VQA v2 numbers questions image_id * 1000 + k, so do we.
            question_id = image_id * 1000 + index
            questions.append(
                {
                    "image_id": image_id,
                    "question": question["question"],
                    "question_id": question_id,
                }
            )
            answers.append(_vqa_annotation(question, question_id, image_id))
        labels.append({"image_id": image_id, "label": example["label"]})

    write_json(
        paths["captions"],
        {"info": info, "images": images, "annotations": captions},
    )
    write_json(
        paths["questions"],
        {
            "info": info,
            "task_type": "Open-Ended",
            "data_type": "shapes",
            "data_subtype": split,
            "questions": questions,
        },
    )
    write_json(
        paths["annotations"],
        {"info": info, "data_subtype": split, "annotations": answers},
    )
    write_json(paths["labels"], {"classes": list(CLASS_NAMES), "labels": labels})
    return {
        "images": num_images,
        "captions": len(captions),
        "questions": len(questions),
    }


def write_json(path, data, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent)


def _vqa_annotation(question, question_id, image_id):
    """A VQA v2 annotation; the 10 annotators all agree on synthetic data."""
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": question["question_type"],
        "answer_type": question["answer_type"],
        "multiple_choice_answer": question["answer"],
        "answers": [
            {"answer": question["answer"], "answer_confidence": "yes", "answer_id": i}
            for i in range(1, 11)
        ],
    }


def _write_jpeg(image, path):
    # subsampling=0 keeps full-resolution colour: the default 4:2:0 chroma
    # subsampling visibly smears the colours of shapes only a few pixels wide.
    Image.fromarray(image).save(path, quality=_JPEG_QUALITY, subsampling=0)
