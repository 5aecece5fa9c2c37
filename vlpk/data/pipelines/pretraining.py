"""The input pipeline for multi-objective pretraining (ALBEF, BLIP, CoCa).

It extends `contrastive_dataset` with what each head needs: image ids for
hard-negative sampling, masked text for the masked LM (KerasHub's
`MaskedLMMaskGenerator`), and shifted targets for the captioning LM.
"""

import math

import keras_hub
import tensorflow as tf

from vlpk.data.pipelines.pipeline import AUTOTUNE, contrastive_dataset, fixed_epoch
from vlpk.data.shards.reading import caption_pair_dataset
from vlpk.data.shards.shard_splits import ShardSplit
from vlpk.layers.caption_decoder import next_token_targets

# Records held by a shard stream's shuffle buffer: encoded images (~100 KB
# each for COCO), so about 1 GB at most, and a mix over several shards.
SHARD_SHUFFLE_BUFFER = 10_000


def masked_lm_generator(tokenizer, sequence_length, rate=0.15, seed=None):
    """KerasHub's BERT-style masking for a vlpk tokenizer.

    15% of the real tokens are selected (never `[PAD]`, `[CLS]` or `[SEP]`);
    of those, 80% become `[MASK]`, 10% a random token and 10% stay.

    Args:
        tokenizer: the KerasHub tokenizer (e.g. `BertTokenizer`).
        sequence_length: the packed text length.
        rate: the selection rate.
        seed: unused by tf-text's selector; kept for the config's record.

    Returns:
        A `keras_hub.layers.MaskedLMMaskGenerator` with room for
        `ceil(2 * rate * sequence_length)` masked positions per caption.
    """
    del seed
    special = [tokenizer.token_to_id(token) for token in ("[PAD]", "[CLS]", "[SEP]")]
    return keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size(),
        mask_selection_rate=rate,
        mask_token_id=tokenizer.token_to_id("[MASK]"),
        mask_selection_length=max(2, math.ceil(2 * rate * sequence_length)),
        unselectable_token_ids=special,
    )


def mask_rows(mask_generator, token_ids):
    """Applies `mask_generator` to a batch one row at a time, in order.

    tf-text's `RandomItemSelector` (inside `MaskedLMMaskGenerator`) shuffles
    each row in a `tf.map_fn` whose iterations run in parallel and share one
    stateful random op, so which row gets which draw depends on thread
    timing: the masks differ from run to run even with
    `enable_op_determinism`. Masking one row per call, with one iteration in
    flight, fixes the order of the draws and so makes the masks (and a
    resumed run) reproducible.

    Args:
        mask_generator: a `keras_hub.layers.MaskedLMMaskGenerator` with a
            `mask_selection_length`.
        token_ids: an int `[batch, sequence_length]` tensor.

    Returns:
        The generator's dict (`token_ids`, `mask_positions`, `mask_ids` as
        int32, `mask_weights` as float32), batched like `token_ids`.

    Example:
    >>> from vlpk.text import TextPreprocessor, wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
    ...                                  "[MASK]", "red", "circle"])
    >>> token_ids = TextPreprocessor(tokenizer, 6)(["red circle"])["token_ids"]
    >>> masked = mask_rows(masked_lm_generator(tokenizer, 6), token_ids)
    >>> masked["token_ids"].shape, masked["mask_positions"].shape
    (TensorShape([1, 6]), TensorShape([1, 2]))
    """
    length = mask_generator.mask_selection_length
    dtypes = {
        "token_ids": "int32",
        "mask_positions": "int32",
        "mask_ids": "int32",
        "mask_weights": "float32",
    }

    def mask_one(row):
        masked = mask_generator(row)
        return {key: tf.cast(masked[key], dtype) for key, dtype in dtypes.items()}

    signature = {
        key: tf.TensorSpec(
            [token_ids.shape[1] if key == "token_ids" else length], dtype
        )
        for key, dtype in dtypes.items()
    }
    return tf.map_fn(
        mask_one, token_ids, fn_output_signature=signature, parallel_iterations=1
    )


def pretraining_dataset(
    examples,
    image_preprocessor,
    text_preprocessor,
    objectives=("contrastive",),
    mask_generator=None,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
):
    """Image-caption batches with the inputs and targets of every objective.

    Args:
        examples: `vlpk.data.Example`s with `image_path` and `captions`, or
            a `vlpk.data.shards.shard_splits.ShardSplit`, streamed from its shards
            (its epoch is the manifest's caption count in batches).
        image_preprocessor: a `vlpk.data.ImagePreprocessor`.
        text_preprocessor: a `vlpk.text.TextPreprocessor`.
        objectives: the heads being trained (see `vlpk.models.ImageTextPretrainer`).
        mask_generator: a `MaskedLMMaskGenerator` (needed for `masked_lm`;
            see `masked_lm_generator`).
        batch_size: the global batch size (the last partial batch is dropped).
        shuffle: shuffle each epoch, deterministically given `seed`.
        seed: the shuffle seed.
        repeat: repeat forever (for step-based, resumable training).

    Returns:
        A `tf.data.Dataset` of `(x, y)`. `x` has `images`, `token_ids`,
        `padding_mask`, plus `image_id` (matching) and `masked_token_ids`,
        `mask_positions` (masked LM). `y` has one target per objective:
        `contrastive` (image ids), `matching` (`[1, 0, 0]` per row),
        `masked_lm` (the masked tokens' ids, 0 in unused slots) and
        `captioning` (the next token at each position, 0 after the end).

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
    >>> ds = pretraining_dataset(train, ImagePreprocessor(16), text_preprocessor,
    ...     objectives=("contrastive", "matching", "masked_lm"),
    ...     mask_generator=masked_lm_generator(tokenizer, 8), batch_size=2)
    >>> x, y = next(iter(ds))
    >>> sorted(x)  # doctest: +NORMALIZE_WHITESPACE
    ['image_id', 'images', 'mask_positions', 'masked_token_ids',
     'padding_mask', 'token_ids']
    >>> sorted(y)
    ['contrastive', 'masked_lm', 'matching']

    An `ImageTextPretrainer` then trains on it with `model.fit(ds, epochs=1)`.
    """
    objectives = tuple(objectives)
    if "masked_lm" in objectives and mask_generator is None:
        raise ValueError("The masked_lm objective needs a `mask_generator`.")
    ds = _pair_dataset(
        examples,
        image_preprocessor,
        text_preprocessor,
        batch_size,
        shuffle,
        seed,
        repeat,
    )
    # Sequential (not parallel): the masking draws random numbers, and one
    # ordered stream of draws keeps the run reproducible and resumable.
    return ds.map(objective_targets(objectives, mask_generator)).prefetch(AUTOTUNE)


def _pair_dataset(
    examples, image_preprocessor, text_preprocessor, batch_size, shuffle, seed, repeat
):
    """Contrastive batches of a list of `Example`s, or streamed from shards."""
    if not isinstance(examples, ShardSplit):
        return contrastive_dataset(
            examples,
            image_preprocessor,
            text_preprocessor,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            repeat=repeat,
        )
    ds = caption_pair_dataset(
        examples.path,
        image_preprocessor,
        text_preprocessor,
        batch_size=batch_size,
        shuffle_buffer=SHARD_SHUFFLE_BUFFER if shuffle else 0,
        seed=seed,
        repeat=repeat,
    )
    if repeat:
        return ds
    # The manifest's caption count gives the epoch its length up front.
    return fixed_epoch(ds, examples.captions, batch_size, drop_remainder=True)


def objective_targets(objectives, mask_generator=None):
    """`add_targets(x, y)`: a contrastive batch with every objective's inputs
    and targets (see `pretraining_dataset`)."""

    def add_targets(x, y):
        x, y = dict(x), dict(y)
        if "matching" in objectives:
            x["image_id"] = tf.cast(y["contrastive"], "int32")
            rows = tf.shape(x["token_ids"])[0]
            y["matching"] = tf.tile(tf.constant([[1.0, 0.0, 0.0]]), [rows, 1])
        if "captioning" in objectives:
            y["captioning"] = next_token_targets(x["token_ids"])
        if "masked_lm" in objectives:
            masked = mask_rows(mask_generator, x["token_ids"])
            x["masked_token_ids"] = tf.cast(masked["token_ids"], "int32")
            x["mask_positions"] = tf.cast(masked["mask_positions"], "int32")
            y["masked_lm"] = tf.cast(masked["mask_ids"], "int32")
        return x, y

    return add_targets
