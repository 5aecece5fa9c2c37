"""Caption a pretrained CoCa run's validation images with each KerasHub sampler.

Greedy, beam search (3 beams) and top-k (k=5) sampling, each scored with
corpus BLEU-4 against the five reference captions.

Run it on a `shapes_coca` run directory:

    python training/caption_samplers.py runs/coca
"""

import argparse
import json
import os

import keras_hub
import numpy as np
import tensorflow as tf

from vlpk.data import read_shapes
from vlpk.evaluation import caption_bleu
from vlpk.models import load_task

SAMPLERS = {
    "greedy": ("greedy", {}),
    "beam (3 beams)": ("beam", {"num_beams": 3}),
    "top-k (k=5)": (keras_hub.samplers.TopKSampler(k=5, seed=0), {}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args()
    # The run's task preset carries its tokenizer and image preprocessing.
    task = load_task(os.path.join(args.run_dir, "preset"))
    val = read_shapes(os.path.join(args.run_dir, "shapes"), "val")
    images = np.array([tf.io.read_file(e.image_path).numpy() for e in val], object)
    results = {}
    for label, (sampler, kwargs) in SAMPLERS.items():
        captions = task.generate(images, sampler=sampler, **kwargs)
        bleu = caption_bleu([e.captions for e in val], captions)
        results[label] = {"bleu4": bleu, "first": captions[:3]}
        print(f"{label:16s} BLEU-4 {bleu:5.1f}   e.g. {captions[0]!r}")
    with open(os.path.join(args.run_dir, "caption_samplers.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
