"""Reads LLaVA's conversation JSON, the format of visual instruction tuning.

The file is a JSON list of records (LLaVA's `docs/Finetune_Custom_Data.md`):

```
[{"id": "997bb945",
  "image": "part-000001/997bb945.jpg",
  "conversations": [
      {"from": "human", "value": "<image>\\nWrite a prompt for this image."},
      {"from": "gpt", "value": "a beautiful painting of ..."},
      {"from": "human", "value": "And a shorter one?"},
      {"from": "gpt", "value": "a painting"}]}]
```

`read_llava` turns each record into one conversation `Example` (`roles`,
`texts`), which `vlpk data convert --format llava` writes as shards and
`vlpk.data.pipelines.conversations` reads back as (prompt, response) pairs.

What LLaVA does with a record decides what is kept, read in
github.com/haotian-liu/LLaVA at commit c121f0432da27facab705978f83c4ada465e46fd
(`llava/train/train.py`: `LazySupervisedDataset.__getitem__`,
`preprocess_multimodal`, `preprocess_v1`, `preprocess_plain`;
`llava/model/llava_arch.py`: `prepare_inputs_labels_for_multimodal`):

Kept as LLaVA keeps them:

- `<image>` anywhere in the first human turn: LLaVA removes every
  `<image>` of the turn, strips the text and puts one `<image>\\n` first.
  vlpk stores the text so stripped; the image goes before the first turn.
- No `"image"` key: a text-only record, no image file read; kept with empty
  image bytes.
- Several human/gpt rounds: one sequence, every answer trained; kept, and
  `vlpk.data.pipelines.conversations` trains each answer once.
- A first turn from `gpt`: dropped (`source = source[1:]`, "Skip the first
  one if it is not from human"); the same here.

Skipped and reported, each with its reason:

- Turns that do not alternate human, gpt: `assert role == conv.roles[j %
  2]` fails in LLaVA.
- A role other than `human` and `gpt` (`"system"`, `"user"`): `roles =
  {"human": ..., "gpt": ...}` has no other key, a `KeyError`.
- `"image"` a list (several images): `os.path.join(image_folder,
  image_file)` raises a `TypeError`; LLaVA 1.5 takes one image per record.
- An image but no `<image>`: LLaVA decodes the image, then
  `prepare_inputs_labels_for_multimodal` joins it as zero features
  (`image_features[0:0]`), so the model never sees it, and
  `preprocess_plain` (the pretraining stage) asserts the placeholder. A
  silent text-only record is a data error, so vlpk refuses it.
- `<image>` but no image: LLaVA tokenizes the placeholder as plain text.
- `<image>` in several turns: LLaVA puts one image token in each such
  turn, for one image, so the image features go out of step with the
  tokens.
- `<image>` only in a later turn: LLaVA shows the image there, after the
  earlier rounds; vlpk always puts the image first (as the prefix of a
  `VisionLMPreprocessor`), which would let the earlier answers see it, so
  it refuses the record rather than change what is learnt.
- No gpt turn, or an empty answer: nothing (or only the end token) to
  learn. LLaVA trains on it anyway; vlpk does not (its choice).
- Bytes that are not UTF-8 (or U+FFFD, a lossy decoder's mark): LLaVA's
  `json.load` fails on the whole file; vlpk skips the records holding them.
- A missing, corrupt or oversized image: `Image.open` raises mid-training
  in LLaVA; vlpk skips it at conversion (below).

The image checks are those of every other format: `vlpk.data.shards.convert`
checks each image as it writes the shards, so a record with a missing,
truncated, non-image or oversized file is reported there, with its path.
The turns are stored as they are: `--max-words` bounds captions only, since
cutting a turn would change what the answer is trained on.
"""

import json
import os

from vlpk.data.records.example import (
    Example,
    MissingFileError,
    RecordError,
    get_field,
    report_error,
)
from vlpk.errors import InputError

# `DEFAULT_IMAGE_TOKEN` of `llava/constants.py`.
IMAGE_TOKEN = "<image>"
# The keys of `roles = {"human": ..., "gpt": ...}` in `preprocess_v1`.
HUMAN, GPT = "human", "gpt"


def read_llava(annotations, images_dir, report=None):
    """Reads a LLaVA conversation file into one conversation `Example` each.

    Args:
        annotations: the JSON file, a list of `{"id", "image",
            "conversations"}` records (`"image"` optional).
        images_dir: the folder the `"image"` paths are relative to (LLaVA's
            `--image_folder`).
        report: `report(source, reason)` for a bad record, which is then
            skipped (see the module's table); `source` is `"<file>: [<i>]"`
            or `"<file>: [<i>]['conversations'][<j>]"`. `None` (default)
            raises `InputError` at the first bad record instead.

    Returns:
        A generator of `Example`s in file order: `roles` (`"human"`,
        `"gpt"`), `texts` (`<image>` removed from the first turn, which is
        stripped as LLaVA strips it), `conversation_id` (`"id"` as text, or
        `None`), `image_id` (the record's index) and `image_path` (`""` for
        a text-only record). The file is read, and its top level checked,
        before the first record is asked for.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when the file does not exist.
        InputError: (a `ValueError`) when it is not JSON or not a list, or,
            without `report`, for the first bad record.

    Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "llava.json")
    >>> turns = [{"from": "human", "value": "What is it?\\n<image>"},
    ...          {"from": "gpt", "value": "A red circle."}]
    >>> with open(path, "w") as f:
    ...     json.dump([{"id": "a", "image": "a.jpg", "conversations": turns}], f)
    >>> example = next(read_llava(path, "images"))
    >>> example.roles, example.texts
    (('human', 'gpt'), ('What is it?', 'A red circle.'))
    >>> example.image_path
    'images/a.jpg'
    """
    path = os.fspath(annotations)
    records = _load(path)
    return _examples(records, path, os.fspath(images_dir), report)


def _examples(records, path, images_dir, report):
    for index, record in enumerate(records):
        try:
            yield _read_record(record, index, path, images_dir)
        except RecordError as error:
            report_error(report, error)


def _load(path):
    """The file's list of records.

    Bytes that are not UTF-8 are kept as lone surrogates (`surrogateescape`)
    so that only the records holding them are reported, not the whole file.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f"LLaVA conversation file not found: {path}")
    with open(path, "rb") as f:
        text = f.read().decode("utf-8-sig", errors="surrogateescape")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}: is not a valid LLaVA conversation JSON file ({error})."
        ) from None
    if not isinstance(records, list):
        raise InputError(
            f"{path}: the top level should be a JSON list of "
            '{"id", "image", "conversations"} records (LLaVA\'s format), got '
            f"{type(records).__name__}."
        )
    return records


def _read_record(record, index, path, images_dir):
    """One record's `Example`; raises `RecordError` for a bad record."""
    where = f"[{index}]"
    turns = get_field(record, "conversations", path, where, list)
    image = _image(record, path, where)
    roles, texts = _turns(turns, path, where)
    # preprocess_v1: "Skip the first one if it is not from human". Turns are
    # still named by their index in the file.
    first = 1 if roles[0] == GPT else 0
    roles, texts = roles[first:], texts[first:]
    _check_turns(roles, texts, first, path, where)
    texts = _strip_placeholder(texts, image is not None, first, path, where)
    return Example(
        image_path=os.path.join(images_dir, image) if image is not None else "",
        image_id=index,
        captions=(),
        roles=roles,
        texts=texts,
        conversation_id=_conversation_id(record, path, where),
    )


def _bad(path, where, reason):
    source = f"{path}: {where}"
    return RecordError(f"{source}: {reason}", source, reason)


def _check_text(text, path, where, field):
    """Raises when `text` holds bytes that were not UTF-8 (or their mark)."""
    for char in text:
        if "\udc80" <= char <= "\udcff":
            byte = ord(char) - 0xDC00
            reason = f"{field} is not valid UTF-8 (byte 0x{byte:02x})"
            raise _bad(path, where, reason)
        if "\ud800" <= char <= "\udfff" or char == "\ufffd":
            # A lone surrogate escape, or the mark a lossy decoder leaves.
            raise _bad(path, where, f"{field} is not valid UTF-8")


def _image(record, path, where):
    """The record's image path, or `None` for a text-only record."""
    if "image" not in record:
        return None
    image = record["image"]
    if isinstance(image, list):
        raise _bad(
            path,
            where,
            f"'image' is a list of {len(image)}: LLaVA takes one image path per "
            "record (os.path.join fails on a list); give a single path",
        )
    image = get_field(record, "image", path, where, str)
    if not image.strip():
        raise _bad(path, where, "empty 'image' path")
    _check_text(image, path, where, "'image'")
    return image


def _conversation_id(record, path, where):
    """`"id"` as text; LLaVA never reads it, so it may be missing."""
    if "id" not in record:
        return None
    value = get_field(record, "id", path, where, (str, int))
    _check_text(str(value), path, where, "'id'")
    return str(value)


def _turns(turns, path, where):
    """`(roles, texts)` of the turns, each checked."""
    if not turns:
        raise _bad(path, where, "no turns in 'conversations'")
    roles, texts = [], []
    for j, turn in enumerate(turns):
        at = f"{where}['conversations'][{j}]"
        role = get_field(turn, "from", path, at, str)
        value = get_field(turn, "value", path, at, str)
        if role not in (HUMAN, GPT):
            raise _bad(
                path,
                at,
                f"role {role!r}: LLaVA takes only 'human' and 'gpt' "
                "(preprocess_v1 maps no other)",
            )
        _check_text(value, path, at, "'value'")
        roles.append(role)
        texts.append(value)
    return tuple(roles), tuple(texts)


def _check_turns(roles, texts, first, path, where):
    """Raises unless the turns alternate human, gpt, with non-empty answers.

    `first` is the index in the file of the first turn kept.
    """
    for j, role in enumerate(roles):
        expected = (HUMAN, GPT)[j % 2]
        if role != expected:
            raise _bad(
                path,
                where,
                f"turn {j + first} is from {role!r} where {expected!r} is "
                "expected: turns must alternate human, gpt (LLaVA's "
                "preprocess_v1 asserts it; one leading gpt turn is dropped)",
            )
        if role == GPT and not texts[j].strip():
            raise _bad(path, where, f"empty answer in turn {j + first}")
    if GPT not in roles:
        raise _bad(path, where, "no assistant ('gpt') turn: nothing to train on")


def _strip_placeholder(texts, has_image, first, path, where):
    """The texts with `<image>` taken out of the first turn, as LLaVA does.

    `preprocess_multimodal` replaces every `<image>` of a turn by `""`,
    strips the text and puts one `<image>\\n` first; vlpk keeps the image
    apart, before the first turn, and stores the stripped text.
    """
    turns = [j for j, text in enumerate(texts) if IMAGE_TOKEN in text]
    if turns and not has_image:
        raise _bad(path, where, f"an {IMAGE_TOKEN} placeholder but no 'image'")
    if has_image and not turns:
        raise _bad(
            path,
            where,
            f"an 'image' but no {IMAGE_TOKEN} placeholder: LLaVA would never "
            f"show the image to the model; start the first human turn with "
            f"'{IMAGE_TOKEN}\\n', or drop 'image'",
        )
    if turns and turns != [0]:
        later = next(j for j in turns if j != 0)
        raise _bad(
            path,
            where,
            f"{IMAGE_TOKEN} in turn {later + first}: only the first human turn "
            "may hold it (LLaVA adds one image token per such turn, for one "
            "image)",
        )
    if not turns:
        return texts
    return (texts[0].replace(IMAGE_TOKEN, "").strip(),) + texts[1:]
