"""Raw image bytes and strings in batches, for tasks that preprocess them.

A task with a preprocessor (`vlpk.models.ContrastivePretrainer`,
`ImageTextPretrainer`, `ZeroShotImageClassifier`) takes raw data in `fit`,
`evaluate` and `predict` and maps its own preprocessor over it. These
datasets read the files and nothing more: decoding, resizing and
tokenization stay with the task, as in serving.
"""

import tensorflow as tf

from vlpk.data.pipelines.pipeline import caption_pairs


def raw_pair_dataset(examples, batch_size, shuffle=True, seed=0, repeat=False):
    """Batches of raw `{"images": bytes, "text": str, "image_id": int}`.

    The task's preprocessor decodes and tokenizes them inside `fit`; the
    image ids make two captions of one image each other's positives.
    """
    pairs = caption_pairs(examples)
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "images": pairs["image_path"],
            "text": pairs["caption"],
            "image_id": pairs["image_id"],
        }
    )
    ds = _ordered(ds, len(pairs["caption"]), shuffle, seed, repeat)

    def read(x):
        return {**x, "images": tf.io.read_file(x["images"])}

    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def labelled_image_dataset(examples, batch_size, shuffle=True, seed=0, repeat=False):
    """Batches of `(image bytes, label)`, for an image classifier's `fit`."""
    labels = [e.label for e in examples]
    if any(label is None for label in labels):
        raise ValueError("Classification needs labelled examples.")
    paths = tf.constant([e.image_path for e in examples])
    ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int64)))
    ds = _ordered(ds, len(labels), shuffle, seed, repeat)

    def read(path, label):
        return tf.io.read_file(path), label

    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _ordered(ds, count, shuffle, seed, repeat):
    """Shuffled each epoch (deterministically given `seed`), then repeated."""
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return ds.repeat() if repeat else ds
