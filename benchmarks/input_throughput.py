"""Input throughput: vlpk's shard pipeline against a bare tf.data ceiling.

Writes `--images` synthetic 224x224 JPEGs (smooth noise, which compresses like
a photo) with random captions into TFRecord shards in a temporary directory,
then measures images per second of three pipelines, in turn in each repeat:

- `ceiling`: TFRecordDataset -> parse -> `tf.io.decode_jpeg` ->
  `tf.image.resize(224)` -> batch. No guards, no captions, no tokenizer.
- `vlpk`: `vlpk.data.shards.reading.caption_pair_dataset` with a WordPiece
  `TextPreprocessor` (sequence length 32), no shuffle, one caption per image,
  so both count the same images: parse, header guard, decode, tokenize,
  batch, float32 cast.
- `vlpk_shuffled`: the same with the record and pair shuffles of training
  (`--shuffle-buffer`), for reference.

Two ways to time them (`--mode`):

- `steady` (default): each pipeline repeats forever; a fresh iterator is
  warmed up for `--warmup` batches, then `--batches` batches are timed. This
  is the rate a long training run sees.
- `epoch`: one pass over the images from a fresh iterator, start-up
  included (tf.data's autotuner starts every parallel stage small, so a
  longer pipeline pays more for a short epoch).

Both report wall-clock images/s and process CPU time per image; the ratio is
vlpk / ceiling within each repeat, and the table gives medians.

Run:
    python benchmarks/input_throughput.py                 # steady state
    python benchmarks/input_throughput.py --mode epoch --images 4096
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import parse_example, serialize_example
from vlpk.data.shards.reading import caption_pair_dataset, shard_files
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


def ceiling_dataset(root, batch_size, repeat):
    files = shard_files(root)
    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE
    )
    if repeat:
        ds = ds.repeat()

    def load(serialized):
        image = tf.io.decode_jpeg(parse_example(serialized)["image"], channels=3)
        return tf.image.resize(image, (SIZE, SIZE))

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def vlpk_dataset(root, text_preprocessor, batch_size, repeat, shuffle_buffer=0):
    return caption_pair_dataset(
        root,
        ImagePreprocessor(SIZE),
        text_preprocessor,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
        repeat=repeat,
        drop_remainder=False,
    )


def batch_images(batch):
    images = batch[0]["images"] if isinstance(batch, tuple) else batch
    return int(images.shape[0])


def measure(ds, batches=None, warmup=0):
    """(images/s, CPU µs/image) of a fresh iterator over `ds`.

    With `batches`, `warmup` batches are drawn first and `batches` timed;
    without, one full pass is timed from the start.
    """
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    if batches is None:
        for batch in iterator:
            count += batch_images(batch)
    else:
        for _ in range(batches):
            count += batch_images(next(iterator))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    del iterator  # stop its threads before the next pipeline is timed
    return count / wall, cpu / count * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("steady", "epoch"), default="steady")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=60, help="timed (steady)")
    parser.add_argument("--warmup", type=int, default=20, help="batches (steady)")
    parser.add_argument("--shuffle-buffer", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(__file__), "results", "input_throughput.json"
        ),
    )
    args = parser.parse_args(argv)
    steady = args.mode == "steady"
    timing = dict(batches=args.batches, warmup=args.warmup) if steady else {}

    names = ("ceiling", "vlpk", "vlpk_shuffled")
    with tempfile.TemporaryDirectory() as root:
        captions = write_shards(root, args.images, args.shards, args.seed)
        tokenizer = wordpiece_tokenizer(learn_vocabulary(captions, 200))
        text = TextPreprocessor(tokenizer, sequence_length=32)
        pipelines = {
            "ceiling": ceiling_dataset(root, args.batch_size, steady),
            "vlpk": vlpk_dataset(root, text, args.batch_size, steady),
            "vlpk_shuffled": vlpk_dataset(
                root, text, args.batch_size, steady, args.shuffle_buffer
            ),
        }
        for ds in pipelines.values():  # trace the functions, warm the file cache
            measure(ds.take(2))
        rows = []
        for repeat in range(args.repeats):
            row = {"repeat": repeat}
            for name in names:
                row[name], row[f"{name}_cpu_us"] = measure(pipelines[name], **timing)
            row["ratio"] = row["vlpk"] / row["ceiling"]
            row["ratio_shuffled"] = row["vlpk_shuffled"] / row["ceiling"]
            rows.append(row)
            print_row(row)

    keys = [k for k in rows[0] if k != "repeat"]
    summary = {k: statistics.median(row[k] for row in rows) for k in keys}
    print_row({"repeat": "median", **summary})
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


_HEADER_PRINTED = []


def print_row(row):
    if not _HEADER_PRINTED:
        _HEADER_PRINTED.append(True)
        print(
            f"{'repeat':>6} {'ceiling img/s':>13} {'vlpk img/s':>10} {'ratio':>5} "
            f"{'shuffled img/s':>14} {'ratio':>5} | CPU µs/img: "
            f"{'ceiling':>7} {'vlpk':>5} {'shuffled':>8}"
        )
    print(
        f"{row['repeat']:>6} {row['ceiling']:>13.0f} {row['vlpk']:>10.0f} "
        f"{row['ratio']:>5.2f} {row['vlpk_shuffled']:>14.0f} "
        f"{row['ratio_shuffled']:>5.2f} |             {row['ceiling_cpu_us']:>7.0f} "
        f"{row['vlpk_cpu_us']:>5.0f} {row['vlpk_shuffled_cpu_us']:>8.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
