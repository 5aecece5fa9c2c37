"""Caption a pretrained CoCa run's validation images with each KerasHub sampler.

Greedy, beam search (3 beams) and top-k (k=5) sampling, each scored with
corpus BLEU-4 against the five reference captions.

Run it on a `shapes_coca` run directory:

    python training/caption_samplers.py runs/coca
"""

import argparse
import json
import os

import keras
import keras_hub

import vlpk  # noqa: F401  (registers vlpk's layers for load_model)
from vlpk.config import PretrainConfig
from vlpk.data import ImagePreprocessor, read_shapes
from vlpk.evaluation import caption_bleu, generate_split_captions
from vlpk.text import load_vocabulary, wordpiece_tokenizer

SAMPLERS = {
    "greedy": ("greedy", {}),
    "beam (3 beams)": ("beam", {"num_beams": 3}),
    "top-k (k=5)": (keras_hub.samplers.TopKSampler(k=5, seed=0), {}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args()
    path = os.path.join(args.run_dir, "config.json")
    with open(path) as f:
        config = PretrainConfig.from_dict(json.load(f), source=path)
    model = keras.saving.load_model(os.path.join(args.run_dir, "model.keras"))
    tokenizer = wordpiece_tokenizer(
        load_vocabulary(os.path.join(args.run_dir, "vocab.txt"))
    )
    val = read_shapes(os.path.join(args.run_dir, "shapes"), "val")
    results = {}
    for label, (sampler, kwargs) in SAMPLERS.items():
        captions = generate_split_captions(
            model,
            val,
            ImagePreprocessor(config.image.size),
            tokenizer,
            sampler,
            **kwargs,
        )
        bleu = caption_bleu([e.captions for e in val], captions)
        results[label] = {"bleu4": bleu, "first": captions[:3]}
        print(f"{label:16s} BLEU-4 {bleu:5.1f}   e.g. {captions[0]!r}")
    with open(os.path.join(args.run_dir, "caption_samplers.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
