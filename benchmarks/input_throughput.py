"""Input throughput: vlpk's shard pipeline against a bare tf.data ceiling.

Writes `--images` synthetic 224x224 JPEGs (smooth noise, which compresses like
a photo) with random captions into TFRecord shards in a temporary directory,
then measures images per second, alternating in each repeat:

- `ceiling`: TFRecordDataset -> parse -> `tf.io.decode_jpeg` ->
  `tf.image.resize(224)` -> batch. No guards, no captions, no tokenizer.
- `vlpk`: `vlpk.data.shards.caption_pair_dataset` with a WordPiece
  `TextPreprocessor` (sequence length 32), no shuffle, one caption per image,
  so both count the same images.

Run:
    python benchmarks/input_throughput.py --images 512 --repeats 5
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.data.records import Example
from vlpk.data.shards import caption_pair_dataset, shard_files
from vlpk.data.tfrecord import parse_example, serialize_example
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

SIZE = 224
WORDS = "a the red blue dog cat man woman on under left of riding ball tree".split()


def smooth_noise(rng, size):
    """Low-frequency noise upsampled to `size`: photo-like JPEG sizes."""
    coarse = rng.uniform(0, 255, (size // 16, size // 16, 3)).astype("float32")
    image = tf.image.resize(coarse[None], (size, size), method="bicubic")[0]
    image += rng.normal(0, 6, (size, size, 3))
    return tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)


def write_shards(root, images, shards, seed):
    rng = np.random.default_rng(seed)
    captions = []
    writers = [
        tf.io.TFRecordWriter(os.path.join(root, f"train-{k:05d}.tfrecord"))
        for k in range(shards)
    ]
    for i in range(images):
        jpeg = tf.io.encode_jpeg(smooth_noise(rng, SIZE), quality=90).numpy()
        caption = " ".join(rng.choice(WORDS, rng.integers(6, 14)))
        captions.append(caption)
        example = Example(f"{i}.jpg", i, (caption,))
        writers[i % shards].write(serialize_example(example, jpeg, SIZE, SIZE))
    for writer in writers:
        writer.close()
    return captions


def ceiling_dataset(root, batch_size):
    files = shard_files(root)
    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE
    )

    def load(serialized):
        image = tf.io.decode_jpeg(parse_example(serialized)["image"], channels=3)
        return tf.image.resize(image, (SIZE, SIZE))

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def vlpk_dataset(root, text_preprocessor, batch_size):
    return caption_pair_dataset(
        root,
        ImagePreprocessor(SIZE),
        text_preprocessor,
        batch_size=batch_size,
        shuffle_buffer=0,
        drop_remainder=False,
    )


def images_per_second(ds):
    count, start = 0, time.perf_counter()
    for batch in ds:
        images = batch[0]["images"] if isinstance(batch, tuple) else batch
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(__file__), "results", "input_throughput.json"
        ),
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as root:
        captions = write_shards(root, args.images, args.shards, args.seed)
        tokenizer = wordpiece_tokenizer(learn_vocabulary(captions, 200))
        text = TextPreprocessor(tokenizer, sequence_length=32)
        ceiling = ceiling_dataset(root, args.batch_size)
        vlpk = vlpk_dataset(root, text, args.batch_size)
        images_per_second(ceiling.take(1))  # warm up: traces, file cache
        images_per_second(vlpk.take(1))
        rows = []
        for repeat in range(args.repeats):
            a = images_per_second(ceiling)
            b = images_per_second(vlpk)
            rows.append({"repeat": repeat, "ceiling": a, "vlpk": b, "ratio": b / a})

    summary = {
        key: statistics.median(row[key] for row in rows)
        for key in ("ceiling", "vlpk", "ratio")
    }
    print(f"{'repeat':>6} {'ceiling img/s':>14} {'vlpk img/s':>11} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['repeat']:>6} {row['ceiling']:>14.1f} {row['vlpk']:>11.1f} "
            f"{row['ratio']:>6.2f}"
        )
    print(
        f"{'median':>6} {summary['ceiling']:>14.1f} {summary['vlpk']:>11.1f} "
        f"{summary['ratio']:>6.2f}"
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    result = {
        "settings": vars(args),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "repeats": rows,
        "median": summary,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
