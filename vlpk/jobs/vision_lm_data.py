"""A stage's training pairs: Shapes' conversations, or LLaVA shards.

Both give a `StagePairs`: how many (image, prompt, response) pairs an epoch
has, the text a learned tokenizer reads, and the batches the task's own
preprocessor makes in `tf.data`.
"""

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from vlpk.data.formats.llava import IMAGE_TOKEN
from vlpk.data.shapes.conversations import shapes_conversations
from vlpk.jobs.vision_lm_shards import conversation_batches, text_sample

AUTOTUNE = tf.data.AUTOTUNE


def shapes_pairs(captioned, questioned, stage):
    """`{"images": paths, "prompts", "responses"}` lists of one stage's turns.

    The records are Shapes' LLaVA conversations (`shapes_conversations`):
    `"alignment"` has one "Describe the image." turn per caption,
    `"instruct"` a caption turn and every VQA question of the image. Each
    turn is its own single-turn pair, asked as the evaluation asks it (one
    question, no history), with the `<image>` placeholder taken out: the
    image always comes first, as the model's prefix.

    Example:
    >>> from vlpk.data.records.example import Example
    >>> image = Example("img/7.jpg", 7, ("a red circle",))
    >>> question = Example("img/7.jpg", 7, (), question="what shape?", answer="circle")
    >>> shapes_pairs([image], [question], "instruct")["prompts"]
    ['Describe the image.', 'what shape?']
    """
    variant = "alignment" if stage == "alignment" else "instruct"
    paths = {e.image_id: e.image_path for e in captioned}
    pairs = {"images": [], "prompts": [], "responses": []}
    for record in shapes_conversations(captioned, questioned, variant):
        image_id = int(record["id"].split("-")[0])
        turns = record["conversations"]
        for human, gpt in zip(turns[::2], turns[1::2]):
            pairs["images"].append(paths[image_id])
            prompt = human["value"].replace(IMAGE_TOKEN, "").strip()
            pairs["prompts"].append(prompt)
            pairs["responses"].append(gpt["value"])
    return pairs


def pair_dataset(pairs, preprocessor, batch_size, seed=0, shuffle=True, repeat=False):
    """Batches of `preprocessor`'s `(x, y, sample_weight)`, images read from disk.

    The shuffle is seeded and covers every pair, so a resumed run sees the
    same batches.
    """
    ds = tf.data.Dataset.from_tensor_slices(
        {k: np.array(v, dtype=object) for k, v in pairs.items()}
    )
    if shuffle:
        ds = ds.shuffle(len(pairs["prompts"]), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(
        lambda x: {**x, "images": tf.io.read_file(x["images"])},
        num_parallel_calls=AUTOTUNE,
    )
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(preprocessor, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class StagePairs:
    """A stage's training pairs, however they are stored.

    Attributes:
        count: pairs in one epoch.
        texts: `() -> list of str`, each pair as the LM reads it, for a
            learned tokenizer (called only when no LM preset is given).
        batches: `(preprocessor, batch_size, seed) -> tf.data.Dataset`,
            endless shuffled batches.
        source: what the pairs are, for progress lines.
    """

    count: int
    texts: Callable
    batches: Callable
    source: str


def shapes_stage_pairs(pairs):
    """`StagePairs` of `shapes_pairs`' lists."""

    def batches(preprocessor, batch_size, seed):
        return pair_dataset(pairs, preprocessor, batch_size, seed=seed, repeat=True)

    texts = [f"{p}\n{r}" for p, r in zip(pairs["prompts"], pairs["responses"])]
    return StagePairs(len(texts), lambda: texts, batches, "Shapes")


def shard_stage_pairs(split, count):
    """`StagePairs` of a LLaVA conversation `ShardSplit` with `count` answers."""

    def batches(preprocessor, batch_size, seed):
        return conversation_batches(split, preprocessor, batch_size, seed=seed)

    return StagePairs(count, lambda: text_sample(split), batches, split.path)
