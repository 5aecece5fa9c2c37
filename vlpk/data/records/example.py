"""The record every vlpk reader returns, and helpers shared by the readers.

Each reader (`coco.py`, `vqa.py`, `synthetic.py`) turns its on-disk format into a
list of `Example` records, so the input pipelines never need to know which
dataset they are fed. The JSON helpers below give every reader the same
actionable error messages: which file, which field, what to do next.
"""

import dataclasses
import json
import os

from vlpk.errors import InputError


class MissingFileError(InputError, FileNotFoundError):
    """A file the user pointed to does not exist.

    It is both a `FileNotFoundError`, as callers expect, and an `InputError`,
    so the CLI reports it as bad input (exit code 2) rather than a crash.
    """


@dataclasses.dataclass(frozen=True)
class Example:
    """One image with its captions, and optionally one question about it.

    Caption readers fill `captions` (and `label` for classification data);
    VQA readers produce one `Example` per question and fill the question fields.
    Conversation readers (`vlpk.data.formats.llava`) fill `roles` and `texts`, one
    entry per turn; `image_path` is `""` for a text-only conversation.

    Args:
        image_path: path of the image file.
        image_id: the dataset's integer image id.
        captions: all captions of the image, in annotation order.
        question: the question text, for VQA records.
        question_id: the dataset's integer question id, for VQA records.
        answers: the raw annotator answers (10 in VQA v2), in annotation order.
        answer: the consensus answer (`multiple_choice_answer` in VQA v2).
        answer_type: `"yes/no"`, `"number"` or `"other"`, as in VQA v2.
        question_type: VQA v2's question type (`"what color is the"`), when
            the annotations give one.
        label: an integer class label, for classification data.
        roles: the speaker of each turn of a conversation, `"human"` or
            `"gpt"` (LLaVA's names); empty for every other kind of record.
        texts: the text of each turn, with the `<image>` placeholder removed
            (the image goes before the first turn).
        conversation_id: the conversation's own id (LLaVA's `"id"`), as text.
        questions: for an image of a VQA conversion, its questions, each an
            `Example` with the question fields set (see
            `vlpk.data.records.vqa_groups.group_questions`).

    Example:

    >>> from vlpk.data.records.example import Example
    >>> example = Example("images/000000000001.jpg", 1, ("a red circle",))
    >>> example.captions
    ('a red circle',)
    """

    image_path: str
    image_id: int
    captions: tuple[str, ...]
    question: str | None = None
    question_id: int | None = None
    answers: tuple[str, ...] = ()
    answer: str | None = None
    answer_type: str | None = None
    question_type: str | None = None
    label: int | None = None
    roles: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    conversation_id: str | None = None
    # VQA shards store each image once: its questions, as `Example`s of one
    # question each (see `vlpk.data.records.vqa_groups`).
    questions: tuple = ()

    @property
    def is_conversation(self):
        """Whether this record is a conversation (it has turns)."""
        return bool(self.roles)


def read_json(path, description):
    """Loads a JSON file, with errors that name the file.

    Args:
        path: path of the JSON file.
        description: what the file should hold, for error messages, e.g.
            `"COCO captions"`.

    Returns:
        The decoded JSON value.

    Raises:
        MissingFileError: (a `FileNotFoundError`) when `path` does not exist.
        InputError: (a `ValueError`) when the file is not valid JSON.

    Example:

    >>> import json, os, tempfile
    >>> from vlpk.data.records.example import read_json
    >>> path = os.path.join(tempfile.mkdtemp(), "a.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": []}, f)
    >>> read_json(path, "COCO captions")
    {'images': []}
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"{description} file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"{path}: is not a valid {description} JSON file ({error})."
        ) from None


class RecordError(InputError):
    """One bad record in an otherwise readable file.

    `get_field` raises it. Its message names the file and the field, as every
    `InputError` does; `source` (`"<file>: <where>"`) and `reason` (e.g.
    `"missing field 'caption'"`) are the same facts split for `report`.
    """

    def __init__(self, message, source, reason):
        super().__init__(message)
        self.source = source
        self.reason = reason


def get_field(record, key, path, where, kind=None):
    """Returns `record[key]`, or raises an error naming the file and the field.

    Args:
        record: a decoded JSON object (should be a dict).
        key: the required key.
        path: the file the record came from, for error messages.
        where: where the record sits in the file, e.g. `"annotations[3]"`, or
            `"the top level"`.
        kind: optional type (or tuple of types) the value must have, e.g. `list`.

    Returns:
        The value under `key`.

    Raises:
        RecordError: (an `InputError`, so a `ValueError`) when `record` is not
            a dict, lacks `key`, or the value has the wrong type.

    Example:

    >>> from vlpk.data.records.example import get_field
    >>> get_field({"id": 3}, "id", "captions.json", "images[0]", int)
    3
    """
    source = f"{path}: {where}"
    if not isinstance(record, dict):
        got = type(record).__name__
        raise RecordError(
            f"{source} should be a JSON object, got {got}.",
            source,
            f"should be a JSON object, got {got}",
        )
    if key not in record:
        raise RecordError(
            f"{source} is missing the required key {key!r}.",
            source,
            f"missing field {key!r}",
        )
    value = record[key]
    if kind is not None and not _has_type(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        got = type(value).__name__
        raise RecordError(
            f"{source}[{key!r}] should be of type {expected}, got {got}.",
            source,
            f"field {key!r} should be of type {expected}, got {got}",
        )
    return value


def _has_type(value, kind):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is a subclass of int, but an id of `true` is a malformed file, not 1.
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def report_or_raise(report, source, reason):
    """Hands a bad record to `report(source, reason)`, or raises without one.

    Readers take `report=None`: strict by default (an `InputError` with the
    message `f"{source}: {reason}"`), lenient when the converter passes its
    `SkipLog`. `source` names the file and the record (`"pairs.csv: line 17"`,
    `"captions.json: annotations[3]"`); `reason` is short (`"empty caption"`).

    Example:
    >>> skipped = []
    >>> keep = lambda source, reason: skipped.append((source, reason))
    >>> report_or_raise(keep, "a.csv: line 3", "empty caption")
    >>> skipped
    [('a.csv: line 3', 'empty caption')]
    """
    if report is None:
        raise InputError(f"{source}: {reason}")
    report(source, reason)


def report_error(report, error):
    """Hands a caught `RecordError` to `report`, or re-raises it without one.

    Call it in an `except RecordError` block: strict readers keep the full
    message of `get_field`, lenient ones report its `source` and `reason`.

    Example:
    >>> skipped = []
    >>> keep = lambda source, reason: skipped.append((source, reason))
    >>> try:
    ...     get_field({}, "caption", "c.json", "annotations[3]", str)
    ... except RecordError as error:
    ...     report_error(keep, error)
    >>> skipped
    [('c.json: annotations[3]', "missing field 'caption'")]
    """
    if report is None:
        raise error
    report(error.source, error.reason)
