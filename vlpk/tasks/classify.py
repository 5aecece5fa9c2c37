"""Image classification from a pretrained image encoder: linear probe or fine-tune."""

import numpy as np
import tensorflow as tf

from vlpk.data.pipelines.pipeline import (
    AUTOTUNE,
    fixed_epoch,
    image_dataset,
    load_image,
    skip_bad_images,
)
from vlpk.data.shards.reading import decode_guarded, read_records
from vlpk.data.shards.shard_splits import ShardSplit
from vlpk.errors import InputError
from vlpk.evaluation import predict_batches
from vlpk.models.classification import ImageClassifier
from vlpk.tasks.zero_shot import top_k_accuracy

# Records held by a labelled stream's shuffle buffer (encoded images).
_RECORD_SHUFFLE = 10_000


def image_classifier(source, class_names, linear_probe=False, dropout=0.0):
    """An `ImageClassifier` task on `source`'s backbone (shared weights).

    With `linear_probe=True` the image encoder is frozen (`trainable =
    False`, so batch-norm statistics stay fixed too) and only the linear
    head trains.

    Args:
        source: a pretraining task, or its backbone.
        class_names: the class names, in label order.
        linear_probe: freeze the image encoder.
        dropout: dropout before the head.
    """
    backbone = getattr(source, "backbone", source)
    backbone.image_encoder.trainable = not linear_probe
    return ImageClassifier(
        backbone,
        len(class_names),
        class_names=list(class_names),
        dropout=dropout,
        compile=False,
        name="classifier",
    )


def labelled_image_dataset(
    examples, image_preprocessor, batch_size=64, shuffle=True, seed=0, repeat=False
):
    """`({"images"}, {"predictions": label})` batches; bad images are skipped.

    `examples` is a list of labelled `Example`s, or a `ShardSplit` of
    labelled data, streamed from its shards (see `labelled_shard_dataset`).
    """
    if isinstance(examples, ShardSplit):
        return labelled_shard_dataset(
            examples, image_preprocessor, batch_size, shuffle, seed, repeat
        )
    labels = [e.label for e in examples]
    if any(label is None for label in labels):
        raise ValueError("Classification needs labelled examples (Example.label).")
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "image_path": np.array([e.image_path for e in examples], dtype=object),
            "label": np.array(labels, dtype=np.int64),
        }
    )
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def load(example):
        image, ok = load_image(example["image_path"], image_preprocessor)
        return image, example["label"], ok

    return _labelled_batches(ds.map(load, **_ORDERED), batch_size).prefetch(AUTOTUNE)


_ORDERED = dict(num_parallel_calls=AUTOTUNE, deterministic=True)


def _labelled_batches(ds, batch_size):
    """`(image, label, ok)` elements as the model's batches, bad images out."""

    def to_inputs(images, label):
        return {"images": tf.cast(images, "float32")}, {"predictions": label}

    ds = skip_bad_images(ds).batch(batch_size)
    return ds.map(to_inputs, num_parallel_calls=AUTOTUNE)


def labelled_shard_dataset(
    split, image_preprocessor, batch_size=64, shuffle=True, seed=0, repeat=False
):
    """`labelled_image_dataset`'s batches, streamed from a `ShardSplit`.

    Records are shuffled in a buffer (seeded, reshuffled each pass), and an
    epoch is the manifest's example count in batches; images the decoder
    rejects are skipped with a warning, as in `caption_pair_dataset`.
    """
    if "class_names" not in split.manifest:
        raise InputError(
            f"{split.path} is not labelled data: convert it with `vlpk data "
            "convert --format imagefolder` or `--format labels_csv`."
        )
    records = read_records(split.path, shuffle_files=shuffle, seed=seed)
    if shuffle:
        records = records.shuffle(
            min(len(split), _RECORD_SHUFFLE), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        records = records.repeat()

    def load(record):
        image, ok = decode_guarded(record["image"], image_preprocessor)
        return image, record["label"], ok

    ds = _labelled_batches(records.map(load, **_ORDERED), batch_size)
    if not repeat:
        ds = fixed_epoch(ds, len(split), batch_size, drop_remainder=False)
    return ds.prefetch(AUTOTUNE)


def classification_accuracy(model, examples, image_preprocessor, ks=(1, 5)):
    """Top-k accuracy (percent) of an `ImageClassifier` task on labelled
    examples (its preprocessor, if any, is not used: pixels go in)."""

    def predict(images, training):
        return model({"images": images}, training=training)["predictions"]

    logits = predict_batches(predict, image_dataset(examples, image_preprocessor))
    labels = np.array([e.label for e in examples], dtype=np.int64)
    result = top_k_accuracy(logits, labels, ks)
    result.update(classes=int(logits.shape[1]), images=len(labels))
    return result
