"""Conversation shards as (prompt, response) pairs, for instruction tuning.

`vlpk data convert --format llava` writes one record per conversation: its
image bytes (`b""` when text-only) and its turns, `roles` and `texts` (see
`vlpk.data.records.tfrecord`). A vision-language model with a causal decoder learns
from them one answer at a time: `conversation_turn_pairs` turns a
conversation of `k` answers into `k` pairs, each prompt holding the whole
history before its answer, so every answer is a target exactly once:

```
human: q1   gpt: a1   human: q2   gpt: a2
->  ("{q1}",                 "a1")
    ("{q1}" "a1\\n" "{q2}",   "a2")   with "{...}" the chat template
```

This is what LLaVA trains on, split per answer: its `preprocess_v1` masks
the human turns of one sequence and learns every gpt turn in it.

`conversation_dataset` reads the shards and yields these pairs as
`{"images", "prompts", "responses"}`, the raw inputs of a vision-language
preprocessor (a KerasHub-style `VisionLMPreprocessor`), which decodes the
image and tokenizes the text itself.
"""

import sys

import tensorflow as tf

from vlpk.data.formats.llava import GPT
from vlpk.data.pipelines.image_preprocessor import (
    DEFAULT_MAX_PIXELS,
    image_dimensions,
    is_known_image,
)
from vlpk.data.shards.reading import AUTOTUNE, read_records
from vlpk.errors import InputError

DEFAULT_TEMPLATE = "{prompt}\n"
DEFAULT_ANSWER_TEMPLATE = "{response}\n"


def conversation_turn_pairs(
    roles,
    texts,
    template=DEFAULT_TEMPLATE,
    answer_template=DEFAULT_ANSWER_TEMPLATE,
):
    """Expands one conversation into one (prompt, response) pair per answer.

    It is made of TensorFlow ops, so the same function runs inside
    `tf.data.Dataset.map` (on the parsed `roles` and `texts` of a record)
    and eagerly on Python lists.

    The prompt of the answer at turn `k` joins every turn before `k`: each
    human turn rendered with `template`, each earlier answer with
    `answer_template`. The response is the answer's text, unrendered (the
    preprocessor adds its own end token). A human turn after the last answer
    is in no prompt: it has no answer to train.

    Args:
        roles: 1-D strings, `"human"` or `"gpt"` per turn (other roles are
            read as human turns).
        texts: 1-D strings, each turn's text.
        template: a human turn, `{prompt}` standing for its text, e.g.
            `"USER: {prompt} ASSISTANT:"`. Nothing else in it is read as a
            field, so braces may appear in it.
        answer_template: an earlier answer in the history, `{response}`
            standing for its text, e.g. `"{response}</s>"`.

    Returns:
        `{"prompts", "responses"}`: 1-D string tensors, one entry per
        `"gpt"` turn, in order.

    Raises:
        InputError: when a template does not hold its field exactly once.

    Example:
    >>> pairs = conversation_turn_pairs(
    ...     ["human", "gpt", "human", "gpt"],
    ...     ["What is it?", "A circle.", "What colour?", "Red."],
    ...     template="Q: {prompt}\\nA: ",
    ... )
    >>> for prompt in pairs["prompts"].numpy():
    ...     print(prompt.decode() + "|")
    Q: What is it?
    A: |
    Q: What is it?
    A: A circle.
    Q: What colour?
    A: |
    >>> pairs["responses"].numpy().tolist()
    [b'A circle.', b'Red.']
    """
    before, after = _split_template(template, "{prompt}")
    answer_before, answer_after = _split_template(answer_template, "{response}")
    roles = tf.convert_to_tensor(roles, tf.string)
    texts = tf.convert_to_tensor(texts, tf.string)
    is_answer = tf.equal(roles, GPT)
    rendered = tf.where(
        is_answer,
        tf.strings.join([answer_before, texts, answer_after]),
        tf.strings.join([before, texts, after]),
    )
    answers = tf.where(is_answer)[:, 0]
    turns = tf.size(roles, out_type=tf.int64)
    # [answers, turns]: row k keeps the turns before answer k. Conversations
    # are a few turns long, so the square costs nothing and needs no loop.
    earlier = tf.range(turns)[None, :] < answers[:, None]
    history = tf.where(earlier, tf.broadcast_to(rendered, tf.shape(earlier)), "")
    return {
        "prompts": tf.strings.reduce_join(history, axis=1),
        "responses": tf.gather(texts, answers),
    }


def _split_template(template, field):
    """`(before, after)`: `template` around its one `field`."""
    if not isinstance(template, str) or template.count(field) != 1:
        raise InputError(
            f"A chat template must hold {field} exactly once, got {template!r}."
        )
    before, after = template.split(field)
    return before, after


def conversation_dataset(
    path,
    template=DEFAULT_TEMPLATE,
    answer_template=DEFAULT_ANSWER_TEMPLATE,
    shuffle_buffer=0,
    seed=0,
    deterministic=True,
    repeat=False,
    max_pixels=DEFAULT_MAX_PIXELS,
    input_context=None,
):
    """The (prompt, response) pairs of converted conversation shards.

    The shards are read by `vlpk.data.shards.reading.read_records` (records that are
    no `tf.train.Example` are skipped there). An image is checked by its
    header, as `vlpk.data.shards.reading.decode_guarded` checks it, but not decoded:
    the preprocessor decodes it, and it would be decoded twice. A record
    whose bytes are in no format TensorFlow decodes, or whose header declares
    more than `max_pixels` pixels, is skipped with a warning on stderr;
    text-only conversations (empty bytes) pass.

    Args:
        path: shards, as `vlpk.data.shard_files` accepts them (a folder
            written by `vlpk data convert --format llava`, its manifest or a
            glob). Records that are not conversations give no pairs.
        template: a human turn, see `conversation_turn_pairs`.
        answer_template: an earlier answer, see `conversation_turn_pairs`.
        shuffle_buffer: conversations held by a seeded shuffle, reshuffled
            each epoch (0: files and records in order). The pairs of one
            conversation stay next to each other.
        seed: the file and record shuffle seed.
        deterministic: a reproducible order; `False` trades it for speed.
        repeat: repeat forever (for step-based training).
        max_pixels: the largest `height * width` an image header may declare.
        input_context: a `tf.distribute.InputContext`: read only this input
            pipeline's shards (see `read_records`).

    Returns:
        An unbatched `tf.data.Dataset` of `{"images": encoded image bytes
        (b"" for a text-only conversation), "prompts": string, "responses":
        string}`. Keep only pairs with an image with
        `ds.filter(lambda x: tf.strings.length(x["images"]) > 0)`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import convert_dataset, write_shapes
    >>> from vlpk.data.shapes.conversations import write_llava_json
    >>> from vlpk.data.pipelines.conversations import conversation_dataset
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> images = os.path.join(root, "images", "train")
    >>> _ = write_shapes(root, image_size=32, splits={"train": 2}, progress=False)
    >>> _ = write_llava_json(images, os.path.join(root, "llava.json"))
    >>> shards = os.path.join(root, "shards")
    >>> _ = convert_dataset("llava", os.path.join(root, "llava.json"), images,
    ...                     shards, verbose=0)
    >>> ds = conversation_dataset(
    ...     shards, template="USER: {prompt} ASSISTANT:",
    ...     answer_template="{response}</s>", shuffle_buffer=4)
    >>> pair = next(iter(ds))
    >>> sorted(pair), pair["prompts"].numpy().decode()  # doctest: +ELLIPSIS
    (['images', 'prompts', 'responses'], 'USER: ... ASSISTANT:')

    A `VisionLMPreprocessor` then makes model inputs of it, with
    `ds.map(preprocessor).batch(16)`.
    """
    # Checked now, not at the first record.
    _split_template(template, "{prompt}")
    _split_template(answer_template, "{response}")
    parallel = dict(num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    shuffle = shuffle_buffer > 0
    ds = read_records(
        path,
        deterministic,
        shuffle_files=shuffle,
        seed=seed,
        input_context=input_context,
    )
    ds = ds.filter(lambda record: _image_passes(record, max_pixels))
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def to_pairs(record):
        pairs = conversation_turn_pairs(
            record["roles"], record["texts"], template, answer_template
        )
        images = tf.fill(tf.shape(pairs["responses"]), record["image"])
        return {"images": images, **pairs}

    return ds.map(to_pairs, **parallel).unbatch().prefetch(AUTOTUNE)


def _image_passes(record, max_pixels):
    """Whether a record's image bytes are empty or safe to decode later."""
    image = record["image"]
    height, width = image_dimensions(image)
    safe = is_known_image(image) & (height * width <= max_pixels)

    def rejected():
        tf.print(
            "WARNING: vlpk skipped conversation",
            record["conversation_id"],
            record["source"],
            "(unknown image format, or more than max_pixels)",
            output_stream=sys.stderr,
        )
        return tf.constant(False)

    passes = (tf.strings.length(image) == 0) | safe
    return tf.cond(passes, lambda: tf.constant(True), rejected)
