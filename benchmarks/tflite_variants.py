"""TFLite variants of a run: size, latency, parity with Keras, retrieval R@1.

For each variant (float32, float16, dynamic, int8) the run's image and text
encoders are exported with `vlpk.export.tflite`, run with `ai_edge_litert`
one example at a time (batch 1, as on a phone), and compared with the Keras
model on the Shapes test split: the cosine of each embedding with Keras's,
Recall@1 with the TFLite embeddings, and the median latency per call.

    python benchmarks/tflite_variants.py --from runs/albef --out runs/tflite

Prints a table and writes `benchmarks/results/tflite_variants.json`.

`--calibration-slices K` also exports int8 calibrated on K disjoint slices of
200 training images each (slice 0 is the table's int8 row) and reports the
spread of their R@1: at int8's error level a few near-tied queries decide
R@1, so one calibration draw is one sample.
"""

import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf

from vlpk.export.tflite import VARIANTS, export_tflite, interpreter_runner
from vlpk.jobs.run_dir import load_run
from vlpk.metrics.retrieval import retrieval_metrics


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def cosine(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", default="runs/albef")
    parser.add_argument("--out", default="runs/tflite")
    parser.add_argument("--images", type=int, default=500, help="test images used")
    parser.add_argument("--json", default="benchmarks/results/tflite_variants.json")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--calibration-slices", type=int, default=0)
    args = parser.parse_args()
    run = load_run(args.source)
    model = run.load_task().backbone
    train, val, test = run.splits()
    test = test[: args.images]
    raw = tf.constant([open(e.image_path, "rb").read() for e in test])
    images = np.asarray(run.image_preprocessor(raw), np.float32)
    captions = [c for e in test for c in e.captions]
    owner = [i for i, e in enumerate(test) for _ in e.captions]
    text = run.text_preprocessor(tf.constant(captions))
    ids = np.asarray(text["token_ids"], np.int32)
    masks = np.asarray(text["padding_mask"], np.int32)
    keras_images = np.asarray(model.get_image_embeddings(images))
    keras_texts = np.asarray(model.get_text_embeddings(ids, masks))
    keras_r1 = retrieval_metrics(keras_images, keras_texts, owner)
    rows = {
        "keras": {
            "i2t_r1": keras_r1["i2t_r1"],
            "t2i_r1": keras_r1["t2i_r1"],
        }
    }
    vocab = os.path.join(run.run_dir, "vocab.txt")
    variants = args.variants.split(",")

    def export_and_measure(variant, out, calibration):
        manifest = export_tflite(
            model,
            out,
            variant,
            run.image_preprocessor,
            run.text_preprocessor,
            vocab,
            calibration_examples=calibration,
            overwrite=True,
            parity_examples=val,
        )
        image_runner = interpreter_runner(os.path.join(out, "image_encoder.tflite"))
        text_runner = interpreter_runner(os.path.join(out, "text_encoder.tflite"))
        image_times, text_times = [], []
        lite_images, lite_texts = [], []
        for image in images:
            start = time.perf_counter()
            lite_images.append(image_runner(images=image[None])["image_embedding"][0])
            image_times.append(time.perf_counter() - start)
        for i, m in zip(ids, masks):
            start = time.perf_counter()
            lite_texts.append(
                text_runner(token_ids=i[None], padding_mask=m[None])["text_embedding"][
                    0
                ]
            )
            text_times.append(time.perf_counter() - start)
        # int8 exports leave the L2 normalization to the host.
        lite_images, lite_texts = (
            unit(np.stack(lite_images)),
            unit(np.stack(lite_texts)),
        )
        recall = retrieval_metrics(lite_images, lite_texts, owner)
        return {
            "image_kb": manifest["models"]["image_encoder"]["bytes"] / 1024,
            "text_kb": manifest["models"]["text_encoder"]["bytes"] / 1024,
            "image_ms": 1000 * float(np.median(image_times)),
            "text_ms": 1000 * float(np.median(text_times)),
            "image_cosine_min": float(cosine(lite_images, keras_images).min()),
            "image_cosine_mean": float(cosine(lite_images, keras_images).mean()),
            "text_cosine_min": float(cosine(lite_texts, keras_texts).min()),
            "text_cosine_mean": float(cosine(lite_texts, keras_texts).mean()),
            "i2t_r1": recall["i2t_r1"],
            "t2i_r1": recall["t2i_r1"],
        }

    for variant in variants:
        rows[variant] = export_and_measure(
            variant, os.path.join(args.out, variant), train
        )
        print(variant, json.dumps(rows[variant]), flush=True)
    slices = []
    if args.calibration_slices and "int8" in rows:
        slices.append(rows["int8"])
        for k in range(1, args.calibration_slices):
            calibration = train[200 * k : 200 * (k + 1)]
            if len(calibration) < 200:
                break
            slices.append(
                export_and_measure(
                    "int8", os.path.join(args.out, f"int8-{k}"), calibration
                )
            )
            print(f"int8 slice {k}", json.dumps(slices[-1]), flush=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(
            {
                "source": os.path.abspath(args.source),
                "images": len(test),
                "rows": rows,
                "int8_calibration_slices": slices,
            },
            f,
            indent=2,
        )
    print(
        "| variant | image / text model KB | image / text ms "
        "| mean cosine image / text | min cosine image / text | i2t / t2i R@1 |"
    )
    print("|---|---|---|---|---|---|")
    k = rows["keras"]
    print(f"| Keras | | | | | {k['i2t_r1']:.1f} / {k['t2i_r1']:.1f} |")
    for variant in variants:
        r = rows[variant]
        print(
            f"| {variant} | {r['image_kb']:.0f} / {r['text_kb']:.0f} | "
            f"{r['image_ms']:.2f} / {r['text_ms']:.2f} | "
            f"{r['image_cosine_mean']:.5f} / {r['text_cosine_mean']:.5f} | "
            f"{r['image_cosine_min']:.5f} / {r['text_cosine_min']:.5f} | "
            f"{r['i2t_r1']:.1f} / {r['t2i_r1']:.1f} |"
        )
    if slices:
        drops = [(k["i2t_r1"] - r["i2t_r1"], k["t2i_r1"] - r["t2i_r1"]) for r in slices]
        i2t, t2i = np.array(drops).T
        print(
            f"int8 over {len(slices)} calibration slices: R@1 drop against Keras, "
            f"i2t median {np.median(i2t):.1f} (range {i2t.min():.1f} to "
            f"{i2t.max():.1f}), t2i median {np.median(t2i):.1f} (range "
            f"{t2i.min():.1f} to {t2i.max():.1f}); image mean cosine "
            f"{min(r['image_cosine_mean'] for r in slices):.5f} to "
            f"{max(r['image_cosine_mean'] for r in slices):.5f}"
        )


if __name__ == "__main__":
    main()
