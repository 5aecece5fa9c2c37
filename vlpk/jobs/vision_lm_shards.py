"""LLaVA conversation shards as a vision-LM stage's training and test data.

`vlpk data convert --format llava` writes each conversation once, with its
image. A stage trains on one pair per answer, its prompt holding the
conversation before it (`vlpk.data.pipelines.conversations`), as LLaVA's
`preprocess_v1` learns every assistant turn. Like the Shapes route
(`vlpk.jobs.vision_lm_data`), this gives the job three things:

- the number of training pairs, from the manifest's `answers`, so an
  epoch's steps are known before the first batch;
- a bounded sample of the text, for a tokenizer learned when no LM preset
  is given;
- the batches, streamed from the shards (nothing lists the records), made
  by the task's own preprocessor.

The history is written in the preprocessor's chat template, so that the
last human turn reads as it does in a single-turn prompt: with the default
`"{prompt}\\n"`, `human: q1, gpt: a1, human: q2` gives the prompt
`"q1\\na1\\nq2"`, to which the preprocessor adds its `"\\n"`.
"""

import sys

import tensorflow as tf

from vlpk.data.formats.llava import GPT
from vlpk.data.pipelines.conversations import conversation_dataset
from vlpk.data.pipelines.pretraining import SHARD_SHUFFLE_BUFFER
from vlpk.data.shards.reading import AUTOTUNE, read_records
from vlpk.data.shards.shard_splits import ShardSplit
from vlpk.errors import InputError

# Pairs read for a learned tokenizer (and a from-config LM's text epochs):
# enough for a small SentencePiece vocabulary, bounded for 10M pairs.
TEXT_SAMPLE = 20_000


def _say(message):
    print(message, file=sys.stderr, flush=True)


def open_conversations(path, key="data.train"):
    """The `ShardSplit` at `path`, checked to hold LLaVA conversations.

    Raises:
        InputError: when `path` is no split folder, or holds other records.
    """
    split = ShardSplit.open(path, key)
    kind = split.manifest.get("format")
    if kind != "llava":
        raise InputError(
            f"{key}={path} holds {kind!r} shards; a vision-LM stage trains on "
            "conversations. Convert them with `vlpk data convert --format "
            "llava` (LLaVA's JSON: alignment captions or instruction data)."
        )
    return split


def answer_count(split):
    """Training pairs of a conversation split: its answers with an image.

    Manifests written before vlpk counted answers are counted once, by one
    pass over the records' roles (no images are decoded).
    """
    if "answers" in split.manifest:
        return int(split.manifest["answers"])
    _say(f"      {split.path}: the manifest has no answer count; counting them")
    records = read_records(split.path).filter(
        lambda r: tf.strings.length(r["image"]) > 0
    )
    counts = records.map(
        lambda r: tf.reduce_sum(tf.cast(tf.equal(r["roles"], GPT), tf.int64)),
        num_parallel_calls=AUTOTUNE,
    )
    return int(counts.reduce(tf.constant(0, tf.int64), lambda a, b: a + b))


def history_templates(prompt_template):
    """`(template, answer_template)` for `conversation_turn_pairs` under a
    preprocessor's `prompt_template` (see the module docstring).

    The preprocessor writes the last human turn in `prompt_template`
    itself, so the history leaves it bare: each earlier answer closes the
    human turn before it and opens the next.

    Example:
    >>> history_templates("USER: {prompt} ASSISTANT:")
    ('{prompt}', ' ASSISTANT:{response}\\nUSER: ')
    """
    before, after = prompt_template.split("{prompt}")
    return "{prompt}", after + "{response}\n" + before


def conversation_pairs(split, prompt_template, shuffle=False, seed=0, repeat=False):
    """The split's `{"images", "prompts", "responses"}` pairs with an image.

    Text-only conversations give a vision LM nothing to condition on, and
    are left out. With `shuffle`, conversations pass a seeded shuffle of
    `SHARD_SHUFFLE_BUFFER` records, reshuffled each epoch, and the pairs a
    second small one, so the answers of one conversation spread out.
    """
    template, answer_template = history_templates(prompt_template)
    ds = conversation_dataset(
        split.path,
        template=template,
        answer_template=answer_template,
        shuffle_buffer=SHARD_SHUFFLE_BUFFER if shuffle else 0,
        seed=seed,
        repeat=repeat,
    )
    ds = ds.filter(lambda pair: tf.strings.length(pair["images"]) > 0)
    if shuffle:
        ds = ds.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    return ds


def conversation_batches(split, preprocessor, batch_size, seed=0, training=True):
    """Batches of `preprocessor`'s `(x, y, sample_weight)` from a split.

    Training batches are shuffled, endless and full; evaluation batches
    read the split once, in order, the last one partial.
    """
    ds = conversation_pairs(
        split,
        preprocessor.prompt_template,
        shuffle=training,
        seed=seed,
        repeat=training,
    )
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.map(preprocessor, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def text_sample(split, prompt_template="{prompt}\n", pairs=TEXT_SAMPLE):
    """The first `pairs` pairs as the LM reads them, prompt then answer."""
    sample = conversation_pairs(split, prompt_template).take(pairs)
    texts = []
    for pair in sample.as_numpy_iterator():
        prompt = prompt_template.replace("{prompt}", pair["prompts"].decode())
        texts.append(prompt + pair["responses"].decode())
    _say(f"      text for the tokenizer: the first {len(texts)} pairs")
    return texts
