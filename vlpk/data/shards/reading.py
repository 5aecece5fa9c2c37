"""Reading converted datasets: TFRecord shards in, training batches out.

`vlpk data convert` writes a dataset as TFRecord shards in the layout of
`vlpk.data.records.tfrecord` (one record per image, with its encoded bytes and
captions). This module reads them back:

- `shard_files` finds the shards of a directory, a manifest or a glob.
- `read_records` interleaves the shards into parsed records; given a
  `tf.distribute.InputContext`, each worker of a `MultiWorkerMirroredStrategy`
  reads only its own files.
- `decode_guarded` decodes one image through the `ImagePreprocessor`, and says
  instead of raising when the bytes are not an image or declare too many
  pixels.
- `caption_pair_dataset` turns the records into the same batches as
  `vlpk.data.contrastive_dataset`, so a model trains on shards unchanged.

Bad records never stop training; they are skipped with a warning:

| record | what happens |
|---|---|
| not a `tf.train.Example` (random bytes) | parse error, skipped by `ignore_errors` |
| image bytes in no known format (text, random) | not decoded, skipped, logged |
| PNG/JPEG header declaring more than `max_pixels` | not decoded, skipped, logged |
| truncated JPEG (TF 2.21 raises, no gray fill) | skipped by `ignore_errors` |
| record without captions | no pairs |
| shard cut short | records before the cut are read, the rest of that shard is lost |
"""

import json
import os
import sys

import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import image_dimensions, is_known_image
from vlpk.data.records.tfrecord import parse_example
from vlpk.data.shards.convert import MANIFEST
from vlpk.errors import InputError

AUTOTUNE = tf.data.AUTOTUNE

# Captions of one image leave the decoder side by side; a second, small shuffle
# of this many batches of decoded pairs spreads them over several batches. It
# holds decoded images, so it stays far smaller than the record shuffle.
_PAIR_SHUFFLE_BATCHES = 4


def shard_files(path):
    """Lists the TFRecord shards of a dataset, sorted.

    Args:
        path: a directory, its `manifest.json`, or a glob pattern such as
            `"data/train-*.tfrecord"` (local or any filesystem `tf.io.gfile`
            knows, e.g. `gs://`). In a directory holding a `manifest.json`,
            the shards are the relative file names listed under its
            `"shards"` key; otherwise they are all `*.tfrecord` and
            `*.tfrecord.gz` files of the directory.

    Returns:
        A sorted list of file paths (`.gz` files are read as GZIP).

    Raises:
        InputError: when nothing matches, the manifest is malformed, a shard
            it lists is missing, or `path` is the top folder of a conversion
            with one folder per split (`vlpk data convert --format karpathy`
            without `--split`): the message then names the split folders to
            choose from, since reading them all would mix test and training
            images.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import write_shapes_shards
    >>> out = write_shapes_shards(tempfile.mkdtemp(), {"val": 2})["val"]
    >>> from vlpk.data import shard_files
    >>> [os.path.relpath(f, out) for f in shard_files(out)]  # doctest: +ELLIPSIS
    ['val-00000...tfrecord...']
    """
    path = os.fspath(path)
    if tf.io.gfile.isdir(path):
        manifest = os.path.join(path, MANIFEST)
        if tf.io.gfile.exists(manifest):
            files = _manifest_shards(manifest)
        else:
            files = tf.io.gfile.glob(os.path.join(path, "*.tfrecord"))
            files += tf.io.gfile.glob(os.path.join(path, "*.tfrecord.gz"))
            if not files:
                _refuse_split_folders(path, _folders_with_manifest(path))
    elif os.path.basename(path) == MANIFEST and tf.io.gfile.exists(path):
        files = _manifest_shards(path)
    else:
        files = tf.io.gfile.glob(path)
    if not files:
        raise InputError(
            f"No TFRecord shards found at {path}: expected a directory with "
            "*.tfrecord / *.tfrecord.gz files or a manifest.json, or a glob "
            "pattern that matches shard files. Convert a dataset with "
            "`vlpk data convert` first."
        )
    return sorted(files)


def _folders_with_manifest(path):
    """The sub-folders of `path` that hold a `manifest.json`, by name."""
    return sorted(
        name.rstrip("/")
        for name in tf.io.gfile.listdir(path)
        if tf.io.gfile.exists(os.path.join(path, name.rstrip("/"), MANIFEST))
    )


def _refuse_split_folders(path, folders):
    """Raises, naming `folders`, when `path` holds one folder per split."""
    if not folders:
        return
    choices = ", ".join(os.path.join(path, folder) for folder in folders)
    raise InputError(
        f"{path} holds a conversion with one folder per split; read one of "
        f"them: {choices} (train on the training split, never on test)."
    )


def _manifest_shards(manifest):
    try:
        with tf.io.gfile.GFile(manifest, "r") as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: is not valid JSON ({error}).") from None
    if isinstance(content, dict) and "splits" in content:
        # `vlpk data convert --format karpathy` without --split: the top-level
        # manifest lists the split folders, not shards.
        splits = content["splits"] if isinstance(content["splits"], list) else []
        folders = [s.get("dir") if isinstance(s, dict) else s for s in splits]
        root = os.path.dirname(manifest) or "."
        _refuse_split_folders(root, [str(f) for f in folders])
        raise InputError(f"{manifest}: lists no split folders and no shards.")
    shards = content.get("shards") if isinstance(content, dict) else None
    # `vlpk data convert` lists `{"file": name, "examples": n}`; plain names
    # are accepted too.
    names = [s.get("file") if isinstance(s, dict) else s for s in shards or ()]
    if not isinstance(shards, list) or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"{manifest}: should be a JSON object whose 'shards' key lists the "
            "shard files (names, or {'file': name} objects), relative to the "
            "manifest's directory."
        )
    root = os.path.dirname(manifest)
    files = [os.path.join(root, name) for name in names]
    missing = [f for f in files if not tf.io.gfile.exists(f)]
    if missing:
        raise InputError(
            f"{manifest}: lists {len(missing)} shard(s) that do not exist, "
            f"e.g. {missing[0]}. Re-run the conversion or fix the manifest."
        )
    return files


def read_records(
    path,
    deterministic=True,
    cycle_length=None,
    shuffle_files=False,
    seed=0,
    input_context=None,
):
    """Reads the records of TFRecord shards as parsed dicts (`FEATURES`).

    The shards are read in parallel by `interleave`, one record from each in
    turn. Records that are not a `tf.train.Example` are skipped with a logged
    warning.

    Multi-worker training: pass the `tf.distribute.InputContext` that
    `strategy.distribute_datasets_from_function` gives the dataset function
    (see `caption_pair_dataset`), and each worker reads only its own shards
    (`FILE` sharding: shard `k` goes to input pipeline `k % num_pipelines`).
    There must be at least as many shards as pipelines.

    Without an input context, `strategy.experimental_distribute_dataset` can
    not shard these pipelines by file: TF's auto-shard rewrite stops at the
    `ignore_errors` stage that drops bad records ("Did not find a shardable
    source, walked to a node which is not a dataset ... IgnoreErrorsDataset",
    TF 2.21). The policy is left at `AUTO`, so TF falls back to `DATA`
    sharding: correct (every worker reads everything in the same seeded order
    and keeps its share) but every worker reads and decodes every record.

    Args:
        path: shards, as accepted by `shard_files`.
        deterministic: keep a reproducible record order. `False` lets the
            interleave return whichever shard is ready first (faster on slow
            storage).
        cycle_length: how many shards are read at once (`None`: TF's default,
            the number of CPU cores).
        shuffle_files: shuffle the file order each iteration (seeded).
        seed: the file shuffle seed.
        input_context: a `tf.distribute.InputContext`: read only this input
            pipeline's shards.

    Returns:
        A `tf.data.Dataset` of dicts with the keys of
        `vlpk.data.records.tfrecord.FEATURES`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import write_shapes_shards
    >>> out = write_shapes_shards(tempfile.mkdtemp(), {"val": 2})["val"]
    >>> from vlpk.data import read_records
    >>> for record in read_records(out).take(1):
    ...     print(int(record["image_id"]), record["captions"].shape.rank)
    1 1
    """
    ds = _serialized_records(
        path, deterministic, cycle_length, shuffle_files, seed, input_context
    )
    ds = ds.map(parse_example, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return ds.ignore_errors(log_warning=True)


def _serialized_records(
    path,
    deterministic=True,
    cycle_length=None,
    shuffle_files=False,
    seed=0,
    input_context=None,
):
    """The serialized records of the shards, interleaved.

    With an `input_context`, only that input pipeline's files are read (the
    dataset is then marked as sharded: auto-sharding is off).
    """
    files = shard_files(path)
    ds = tf.data.Dataset.from_tensor_slices(files)
    options = tf.data.Options()
    if input_context is not None and input_context.num_input_pipelines > 1:
        pipelines = input_context.num_input_pipelines
        if len(files) < pipelines:
            raise InputError(
                f"{path}: {len(files)} shard file(s) for {pipelines} input "
                "pipelines (workers): each pipeline reads whole files, so there "
                "must be at least as many files as workers. Re-run `vlpk data "
                "convert` with a smaller --shard-size."
            )
        # Before the file shuffle: the split does not depend on the seed.
        ds = ds.shard(pipelines, input_context.input_pipeline_id)
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF
        )
    if shuffle_files:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    def read(file):
        compressed = tf.strings.regex_full_match(file, r".*\.gz")
        return tf.data.TFRecordDataset(
            file, compression_type=tf.where(compressed, "GZIP", "")
        )

    ds = ds.interleave(
        read,
        cycle_length=cycle_length,
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    return ds.with_options(options)


def decode_guarded(image_bytes, image_preprocessor, dtype="float32", warn=None):
    """Decodes and resizes one image, unless its bytes are unsafe or no image.

    The format and the pixel count are read from the first bytes (see
    `vlpk.data.pipelines.image_preprocessor.image_dimensions`): bytes in no format
    `tf.io.decode_image` knows, and images whose header declares more than
    `image_preprocessor.max_pixels` pixels, are never decoded. Bytes that
    pass these checks but are corrupt inside (a truncated JPEG) still raise
    an `InvalidArgumentError` when decoded: TF 2.21 does not fill a cut JPEG
    with gray, it fails with "jpeg::Uncompress failed". Pipelines follow this
    function with `ignore_errors` (see `caption_pair_dataset`).

    Args:
        image_bytes: a scalar string tensor, the encoded image.
        image_preprocessor: the `vlpk.data.ImagePreprocessor` that decodes it.
        dtype: `"float32"` (what the preprocessor returns) or `"uint8"` (the
            same pixel values, before the cast; what the pipelines carry).
        warn: optional list of tensors printed to stderr, after "WARNING: vlpk
            skipped image", when the image is rejected (e.g. its id and file).

    Returns:
        `(image, ok)`: pixels `[H, W, 3]` of `dtype` as the preprocessor
        returns them (zeros when not ok), and a bool scalar.

    Example:
    >>> from vlpk.data import ImagePreprocessor, decode_guarded
    >>> png = tf.io.encode_png(tf.zeros((16, 16, 3), tf.uint8))
    >>> image, ok = decode_guarded(png, ImagePreprocessor(8))
    >>> image.shape, bool(ok)
    (TensorShape([8, 8, 3]), True)
    >>> _, ok = decode_guarded(tf.constant(b"not an image"), ImagePreprocessor(8))
    >>> bool(ok)
    False
    """
    height, width = image_dimensions(image_bytes)
    ok = is_known_image(image_bytes) & (height * width <= image_preprocessor.max_pixels)
    shape = image_preprocessor.image_size + (3,)

    def rejected():
        if warn:
            # Printed in the branch that rejects: no extra `tf.cond` per image.
            # (Stateful ops in a branch run without explicit dependencies.)
            tf.print(
                "WARNING: vlpk skipped image",
                *warn,
                "(unknown format, or more than max_pixels)",
                output_stream=sys.stderr,
            )
        return tf.zeros(shape, tf.uint8)

    image = tf.cond(
        ok,
        lambda: image_preprocessor.decode_uint8(image_bytes, checked=True),
        rejected,
    )
    return tf.cast(image, dtype), ok


def caption_pair_dataset(
    path,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle_buffer=10_000,
    seed=0,
    deterministic=True,
    augment=None,
    cache=False,
    repeat=False,
    drop_remainder=True,
    one_caption_per_image=False,
    input_context=None,
):
    """Image-caption pairs from TFRecord shards, for contrastive training.

    The batches are those of `vlpk.data.contrastive_dataset`: each caption of
    an image becomes one pair whose target is the image id. Each image is
    decoded once, however many captions it has. Bad records (not an image,
    corrupt, a decompression bomb) are skipped with a warning, never decoded
    past their header when they declare too many pixels.

    Args:
        path: shards, as accepted by `shard_files`.
        image_preprocessor: a `vlpk.data.ImagePreprocessor`, which decodes,
            guards and resizes every image (as in serving).
        text_preprocessor: a `vlpk.text.TextPreprocessor`.
        batch_size: the global batch size.
        shuffle_buffer: records held by the shuffle buffer, seeded and
            reshuffled each epoch (0: files and records are read in order).
        seed: seed of the file shuffle, record shuffle and caption choice.
        deterministic: reproducible order given `seed`; `False` trades it for speed.
        augment: optional Keras layer (or `keras.Sequential`) called on each
            decoded float32 image `[H, W, 3]` in `[0, 255]`, after the cache,
            e.g. `keras.layers.RandomCrop`, `RandomZoom`, `RandomContrast`.
            Avoid horizontal flips: "a dog left of a car" would turn false.
        cache: `True` caches decoded images in memory, a string caches them in
            that file; either way decoding runs once, in the first epoch.
        repeat: repeat forever (for step-based training).
        drop_remainder: drop the last partial batch.
        one_caption_per_image: one pair per image instead of one per caption,
            the caption drawn anew each epoch (seeded, stateless draw).
        input_context: the `tf.distribute.InputContext` of
            `strategy.distribute_datasets_from_function`: read only this
            worker's shards (see `read_records`), `batch_size` per replica.

    Returns:
        A `tf.data.Dataset` of `({"images", "token_ids", "padding_mask"},
        {"contrastive": image_id})`, images float32 in `[0, 255]`.

    Example:
    Read one split folder of a conversion (`OUT/train`, not `OUT` itself):
    >>> import os, tempfile
    >>> from vlpk.data import write_shapes_shards
    >>> out = write_shapes_shards(tempfile.mkdtemp(), {"val": 2})["val"]
    >>> from vlpk.data import ImagePreprocessor, caption_pair_dataset
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> text_preprocessor = TextPreprocessor(
    ...     wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"]), 8)
    >>> ds = caption_pair_dataset(out, ImagePreprocessor(16), text_preprocessor,
    ...                           batch_size=2, shuffle_buffer=4)
    >>> x, y = next(iter(ds))
    >>> x["images"].shape, x["token_ids"].shape, sorted(y)
    (TensorShape([2, 16, 16, 3]), TensorShape([2, 8]), ['contrastive'])

    A model then trains on it with `model.fit(ds, steps_per_epoch=1000)`.

    Under `MultiWorkerMirroredStrategy`, each worker reading its own shards:
    >>> def dataset_fn(context):
    ...     return caption_pair_dataset(
    ...         "shards/karpathy-coco/train", ImagePreprocessor(224),
    ...         text_preprocessor, repeat=True, input_context=context,
    ...         batch_size=context.get_per_replica_batch_size(256))
    >>> # Needs a multi-worker cluster (TF_CONFIG), so it is not run here:
    >>> DistributedTrainer(model, strategy, {"contrastive": ContrastiveLoss()},
    ...                    optimizer).fit(dataset_fn, steps=1000)  # doctest: +SKIP
    """
    parallel = dict(num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    decode = _record_decoder(image_preprocessor)
    ds = _record_stream(
        path, decode, shuffle_buffer, seed, cache, repeat, input_context, parallel
    )
    if one_caption_per_image:
        ds, per_image = _one_caption_each(ds, decode, cache, seed, parallel), True
    else:
        ds = _caption_chunks(ds, decode, image_preprocessor, cache, parallel)
        ds, per_image = _spread_pairs(ds, shuffle_buffer, augment, batch_size, seed)
    ds = _batched(ds, augment, per_image, batch_size, drop_remainder, parallel)
    return _tokenized(ds, text_preprocessor, parallel)


def _record_decoder(image_preprocessor):
    """`decode_record(serialized)`: one record, parsed, its image decoded.

    The record becomes a dict of `image` (uint8: the preprocessor's pixel
    values before its float cast, so decoded images travel at a quarter of
    the size), `captions`, `image_id` and `ok` (false, with a zero image,
    when `decode_guarded` rejected the bytes). Parsing, the header guard and
    decoding run in this one function, so in one parallel map.
    """

    def decode_record(serialized):
        record = parse_example(serialized)
        image, ok = decode_guarded(
            record["image"],
            image_preprocessor,
            dtype="uint8",
            warn=[record["image_id"], record["source"]],
        )
        return {
            "image": image,
            "captions": record["captions"],
            "image_id": record["image_id"],
            "ok": ok,
        }

    return decode_record


def _decoded(ds, decode_record, parallel):
    """The decoded records of `ds` whose image passed and that have captions."""
    # Records that are no `tf.train.Example`, and corrupt data behind a
    # valid header (a truncated JPEG), raise: drop that record, not the
    # epoch.
    ds = ds.map(decode_record, **parallel).ignore_errors(log_warning=True)
    return ds.filter(lambda r: r["ok"] & (tf.size(r["captions"]) > 0))


def _record_stream(
    path, decode_record, shuffle_buffer, seed, cache, repeat, input_context, parallel
):
    """The records of the shards, shuffled and repeated, before any pairing.

    Without `cache` they are still serialized: the record shuffle then holds
    encoded bytes, and images are decoded after it. With `cache`, images are
    decoded once, before the cache, and the shuffle holds cached decoded
    images instead.
    """
    shuffle = shuffle_buffer > 0
    ds = _serialized_records(
        path,
        parallel["deterministic"],
        shuffle_files=shuffle,
        seed=seed,
        input_context=input_context,
    )
    if cache:
        ds = _decoded(ds, decode_record, parallel)
        ds = ds.cache("" if cache is True else os.fspath(cache))
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds


def _one_caption_each(ds, decode_record, cached, seed, parallel):
    """`(image, caption, image_id)` per image, one caption drawn per epoch.

    The draw is stateless, seeded by a per-epoch random stream and the image
    id, so it is the same for a given seed whatever the parallelism.
    """
    if not cached:
        ds = _decoded(ds, decode_record, parallel)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def pick(record, draw):
        n = tf.shape(record["captions"], out_type=tf.int64)[0]
        index = tf.random.stateless_uniform(
            [],
            seed=tf.stack([draw, record["image_id"]]),
            minval=0,
            maxval=n,
            dtype=tf.int64,
        )
        return record["image"], record["captions"][index], record["image_id"]

    return tf.data.Dataset.zip(ds, draws).map(pick, **parallel)


def _caption_chunks(ds, decode_record, image_preprocessor, cached, parallel):
    """One chunk `(images, captions, image_ids)` of pairs per image.

    `ds` holds decoded records when `cached`, else serialized ones.
    """
    shape = image_preprocessor.image_size + (3,)

    def to_pairs(record):
        # One chunk of pairs per image, none for a rejected image: no filter
        # stage. `broadcast_to` forwards the image when it has one caption.
        n = tf.where(record["ok"], tf.size(record["captions"]), 0)
        images = tf.broadcast_to(record["image"][None], tf.concat([[n], shape], 0))
        ids = tf.fill([n], record["image_id"])
        return images, record["captions"][:n], ids

    if cached:
        return ds.map(to_pairs, **parallel)
    # Parsing, the guard, decoding and expansion in one parallel map.
    ds = ds.map(lambda s: to_pairs(decode_record(s)), **parallel)
    return ds.ignore_errors(log_warning=True)


def _spread_pairs(ds, shuffle_buffer, augment, batch_size, seed):
    """`(ds, per_image)`: single pairs when shuffling or augmenting.

    Shuffled pairs go through the small pair shuffle of
    `_PAIR_SHUFFLE_BATCHES`. Otherwise the chunks stay whole (`per_image` is
    false) and `_batched` cuts them with `rebatch`, which copies each image
    once.
    """
    shuffle = shuffle_buffer > 0
    per_image = shuffle or augment is not None
    if per_image:
        ds = ds.unbatch()
    if shuffle:
        pairs = min(shuffle_buffer, _PAIR_SHUFFLE_BATCHES * batch_size)
        ds = ds.shuffle(pairs, seed=seed + 1, reshuffle_each_iteration=True)
    return ds, per_image


def _batched(ds, augment, per_image, batch_size, drop_remainder, parallel):
    """Batches of pairs, each image augmented first when `augment` is given."""
    if augment is not None:
        ds = ds.map(
            lambda image, caption, image_id: (
                augment(tf.cast(image, "float32")),
                caption,
                image_id,
            ),
            **parallel,
        )
    if per_image:
        return ds.batch(batch_size, drop_remainder=drop_remainder)
    # Chunks of pairs (one chunk per image) into batches, in one copy.
    return ds.rebatch(batch_size, drop_remainder=drop_remainder)


def _tokenized(ds, text_preprocessor, parallel):
    """The model's inputs and targets; whole batches are cast to float32."""

    def tokenize(images, captions, image_ids):
        x = {"images": tf.cast(images, "float32"), **text_preprocessor(captions)}
        return x, {"contrastive": image_ids}

    ds = ds.map(tokenize, **parallel)
    return ds.prefetch(AUTOTUNE)
