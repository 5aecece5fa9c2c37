"""`tf.data` pipelines that feed vlpk models.

Every pipeline yields `(x, y)` with named inputs `x = {"images", "token_ids",
"padding_mask"}`, so `model.fit` trains directly on it. Decoding and
tokenization run inside the graph through the same preprocessor layers that
the export uses.
"""

import numpy as np
import tensorflow as tf

from vlpk.data.shards.reading import decode_guarded

AUTOTUNE = tf.data.AUTOTUNE


def load_image(path, image_preprocessor):
    """Reads and decodes one image file, guarded (see `decode_guarded`).

    Returns `(uint8 image, ok)`. A file in no image format, or one whose
    header declares more than `max_pixels`, gives `ok=False` with a warning
    naming the file; a missing file or a corrupt image raises, for the
    pipeline's `ignore_errors` to drop.
    """
    return decode_guarded(
        tf.io.read_file(path), image_preprocessor, dtype="uint8", warn=[path]
    )


def skip_bad_images(ds):
    """Drops the elements whose image could not be loaded (see `load_image`).

    Each element is a tuple whose last item is the `ok` flag; it is removed.
    """

    def ok(*element):
        return element[-1]

    def without_ok(*element):
        return element[:-1]

    ds = ds.ignore_errors(log_warning=True)
    return ds.filter(ok).map(without_ok)


def usable_paths(paths, image_preprocessor):
    """The image paths among `paths` that `load_image` can load.

    Each distinct path is decoded once, in parallel; the others are warned
    about as the pipelines warn (see `load_image`).

    Example:
    >>> from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
    >>> usable_paths(["no/such/file.png"], ImagePreprocessor(8))
    set()
    """
    distinct = list(dict.fromkeys(paths))
    if not distinct:
        return set()
    ds = tf.data.Dataset.from_tensor_slices(np.array(distinct, dtype=object))

    def check(path):
        _, ok = load_image(path, image_preprocessor)
        return path, ok

    ds = ds.map(check, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors(log_warning=True)
    return {path.decode() for path, ok in ds.as_numpy_iterator() if ok}


def _usable(examples, image_preprocessor):
    """The examples whose image loads; raises when none does."""
    good = usable_paths([e.image_path for e in examples], image_preprocessor)
    usable = [e for e in examples if e.image_path in good]
    if examples and not usable:
        raise ValueError(
            f"None of the {len(examples)} examples has an image that loads: "
            "check the image paths (the warnings above name each file)."
        )
    return usable


def caption_pairs(examples):
    """Flattens examples into one (image path, caption, image id) per caption."""
    paths, captions, ids = [], [], []
    for example in examples:
        for caption in example.captions:
            paths.append(example.image_path)
            captions.append(caption)
            ids.append(example.image_id)
    if not paths:
        raise ValueError("No (image, caption) pairs: every example has no caption.")
    return {
        "image_path": np.array(paths, dtype=object),
        "caption": np.array(captions, dtype=object),
        "image_id": np.array(ids, dtype=np.int64),
    }


def contrastive_dataset(
    examples,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle=True,
    seed=0,
    drop_remainder=True,
    repeat=False,
):
    """Image-caption pairs for contrastive training.

    Each caption becomes one pair. The targets are the image ids, so two
    captions of the same image in one batch count as positives of each other
    (see `vlpk.losses.ContrastiveLoss`).

    Images that cannot be used (a missing or empty file, bytes that are no
    image, a truncated or corrupt image, a header declaring more than
    `image_preprocessor.max_pixels` pixels) are skipped with a warning, and
    every other pair still arrives. The skips are the same in every epoch, so
    the stream stays deterministic (and resumable, see `vlpk.jobs.resume`).

    A finite stream has a known length (`fixed_epoch`): the batches the
    pairs make, so Keras shows the step total from the first epoch and does
    not warn that the input "ran out of data". In a shuffled (training)
    stream, an epoch short of batches because images were skipped is topped
    up with the first batches of the next permutation. An unshuffled
    (evaluation) stream first checks each distinct image (`usable_paths`, one
    extra decode) and leaves out the examples whose image does not load, so
    none is skipped later and no pair is counted twice.

    Args:
        examples: `vlpk.data.Example`s with `image_path` and `captions`.
        image_preprocessor: a `vlpk.data.ImagePreprocessor`.
        text_preprocessor: a `vlpk.text.TextPreprocessor`.
        batch_size: the global batch size.
        shuffle: shuffle the pairs each epoch (deterministic given `seed`).
        seed: the shuffle seed.
        drop_remainder: drop the last partial batch (contrastive losses want
            full batches of negatives).
        repeat: repeat forever (for step-based training).

    Returns:
        A `tf.data.Dataset` of `({"images", "token_ids", "padding_mask"},
        {"contrastive": image_id})`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import read_shapes, write_shapes
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"train": 2}, progress=False)
    >>> train = read_shapes(root, "train")
    >>> tokenizer = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"])
    >>> text_preprocessor = TextPreprocessor(tokenizer, sequence_length=8)
    >>> from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
    >>> ds = contrastive_dataset(train, ImagePreprocessor(16), text_preprocessor,
    ...                          batch_size=2)
    >>> x, y = next(iter(ds))
    >>> sorted(x)
    ['images', 'padding_mask', 'token_ids']
    >>> x["images"].shape, y["contrastive"].shape
    (TensorShape([2, 16, 16, 3]), TensorShape([2]))

    A model then trains on it with `model.fit(ds, epochs=1)`.
    """
    if not shuffle and not repeat:
        # An evaluation stream: its images are checked first, so its length
        # is known (no "ran out of data" warning) and no pair counts twice.
        examples = _usable(examples, image_preprocessor)
    pairs = caption_pairs(examples)
    ds = tf.data.Dataset.from_tensor_slices(pairs)
    if shuffle:
        ds = ds.shuffle(len(pairs["caption"]), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def load(pair):
        image, ok = load_image(pair["image_path"], image_preprocessor)
        return image, pair["caption"], pair["image_id"], ok

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = skip_bad_images(ds)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def tokenize(images, captions, image_ids):
        x = {"images": tf.cast(images, "float32"), **text_preprocessor(captions)}
        return x, {"contrastive": image_ids}

    ds = ds.map(tokenize, num_parallel_calls=AUTOTUNE)
    if not repeat:
        ds = fixed_epoch(ds, len(pairs["caption"]), batch_size, drop_remainder)
    return ds.prefetch(AUTOTUNE)


def fixed_epoch(ds, examples, batch_size, drop_remainder):
    """`ds`, a batched stream that may skip elements, as exactly the number of
    batches `examples` make, with that cardinality declared.

    Skipping bad images (`skip_bad_images`) leaves a dataset's cardinality
    unknown; Keras then shows no step total in the first epoch and warns
    that the input "ran out of data" when it ends. Repeating the stream and
    taking the batches the examples make gives every epoch the same length
    (one full pass when nothing is skipped: `take` stops before the next
    pass starts, so the shuffle order is not drawn ahead); a pass short of
    batches is topped up from the next one. The stream should be shuffled,
    or its images checked beforehand (`usable_paths`), or the top-up repeats
    the same batches.

    Args:
        ds: a batched `tf.data.Dataset` with nothing after its batching that
            depends on the pass (repeating it starts a new pass).
        examples: the number of elements before skipping.
        batch_size: the batch size.
        drop_remainder: whether `ds` drops the last partial batch.

    Returns:
        The dataset, with `cardinality()` equal to its number of batches.

    Example:
    >>> ds = tf.data.Dataset.range(10).filter(lambda x: x != 3).batch(4)
    >>> int(fixed_epoch(ds, 10, 4, drop_remainder=False).cardinality())
    3
    """
    batches = examples // batch_size
    if not drop_remainder:
        batches = -(-examples // batch_size)
    ds = ds.repeat().take(batches)
    return ds.apply(tf.data.experimental.assert_cardinality(batches))


def image_dataset(examples, image_preprocessor, batch_size=64):
    """Images only, in example order (for embedding an evaluation set)."""
    paths = np.array([e.image_path for e in examples], dtype=object)
    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(
        lambda p: image_preprocessor(tf.io.read_file(p)),
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def text_dataset(texts, text_preprocessor, batch_size=256):
    """Tokenized texts, in order (for embedding captions or prompts)."""
    ds = tf.data.Dataset.from_tensor_slices(np.array(list(texts), dtype=object))
    return ds.batch(batch_size).map(text_preprocessor).prefetch(AUTOTUNE)


def _labels_array(labels):
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.integer):
        return labels.astype(np.int64)
    return labels.astype(np.float32)


def classification_dataset(
    image_paths,
    texts,
    labels,
    image_preprocessor,
    text_preprocessor,
    batch_size=32,
    shuffle=True,
    seed=0,
):
    """(image, text) → class-index examples: VQA answers, caption matching...

    Unusable images are skipped with a warning, as in `contrastive_dataset`.

    Args:
        image_paths: one image path per example.
        texts: one string per example (a question, a caption).
        labels: one integer class per example, or one float target vector
            per example (e.g. VQA soft scores, see `soft_score_vector`).
        image_preprocessor: an `ImagePreprocessor`.
        text_preprocessor: a `TextPreprocessor`.
        batch_size: the batch size.
        shuffle: shuffle each epoch (deterministic given `seed`).
        seed: the shuffle seed.

    Returns:
        A `tf.data.Dataset` of `({"images", "token_ids", "padding_mask"},
        {"predictions": label})`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import read_shapes, write_shapes
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = write_shapes(root, image_size=32, splits={"train": 2}, progress=False)
    >>> train = read_shapes(root, "train")
    >>> tokenizer = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"])
    >>> text_preprocessor = TextPreprocessor(tokenizer, sequence_length=8)
    >>> from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
    >>> ds = classification_dataset(
    ...     [e.image_path for e in train], ["a red circle?", "a circle?"], [1, 0],
    ...     ImagePreprocessor(16), text_preprocessor, batch_size=2)
    >>> x, y = next(iter(ds))
    >>> x["images"].shape, x["token_ids"].shape, y["predictions"].shape
    (TensorShape([2, 16, 16, 3]), TensorShape([2, 8]), TensorShape([2]))
    """
    if not len(image_paths) == len(texts) == len(labels):
        raise ValueError(
            f"image_paths, texts and labels differ in length: {len(image_paths)}, "
            f"{len(texts)}, {len(labels)}."
        )
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "image_path": np.array(list(image_paths), dtype=object),
            "text": np.array(list(texts), dtype=object),
            "label": _labels_array(labels),
        }
    )
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)

    def load(example):
        image, ok = load_image(example["image_path"], image_preprocessor)
        return image, example["text"], example["label"], ok

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = skip_bad_images(ds).batch(batch_size)

    def tokenize(images, text, label):
        x = {"images": tf.cast(images, "float32"), **text_preprocessor(text)}
        return x, {"predictions": label}

    ds = ds.map(tokenize, num_parallel_calls=AUTOTUNE)
    if shuffle:
        # A known step count, as in `contrastive_dataset`.
        ds = fixed_epoch(ds, len(labels), batch_size, drop_remainder=False)
    return ds.prefetch(AUTOTUNE)
