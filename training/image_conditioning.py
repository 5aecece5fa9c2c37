"""Does a pretrained head read the image? Accuracy with matched vs mismatched images.

Evaluates a `shapes_albef` or `shapes_coca` run's masked-LM / captioning
token accuracy on the validation split twice: with each caption's own image,
and with every caption paired with another image (rolled inside the batch).

    python training/image_conditioning.py runs/albef
"""

import argparse
import json
import os

import keras

import vlpk  # noqa: F401  (registers vlpk's layers for load_model)
from vlpk.config import PretrainConfig
from vlpk.data import (
    ImagePreprocessor,
    masked_lm_generator,
    pretraining_dataset,
    read_shapes,
)
from vlpk.evaluation import evaluate_objectives, evaluate_with_mismatched_images
from vlpk.jobs.recipes import build_losses
from vlpk.models import load_task
from vlpk.text import TextPreprocessor, load_vocabulary, wordpiece_tokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args()
    run = args.run_dir
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = PretrainConfig.from_dict(json.load(f), source=path)
    keras.utils.set_random_seed(config.seed)
    model = load_task(os.path.join(run, "preset"))
    # The batches below are preprocessed in tf.data, as in pretraining.
    model.preprocessor = None
    losses, weights, metrics = build_losses(config)
    model.compile(loss=losses, loss_weights=weights, metrics=metrics)
    tokenizer = wordpiece_tokenizer(load_vocabulary(os.path.join(run, "vocab.txt")))
    objectives = tuple(config.objectives)

    def dataset():
        return pretraining_dataset(
            read_shapes(os.path.join(run, "shapes"), "val"),
            ImagePreprocessor(config.image.size),
            TextPreprocessor(tokenizer, config.text.sequence_length),
            objectives=objectives,
            mask_generator=masked_lm_generator(tokenizer, config.text.sequence_length),
            batch_size=config.optimization.batch_size,
            shuffle=False,
        )

    results = {
        "matched": evaluate_objectives(model, dataset()),
        "mismatched": evaluate_with_mismatched_images(model, dataset()),
    }
    for head in ("masked_lm", "captioning"):
        key = f"{head}_accuracy"
        if key in results["matched"]:
            print(
                f"{head}: token accuracy {100 * results['matched'][key]:.1f}% with "
                f"the caption's image, {100 * results['mismatched'][key]:.1f}% "
                "with another image"
            )
    with open(os.path.join(run, "image_conditioning.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
