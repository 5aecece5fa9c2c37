"""Reads the standard VQA and COCO caption files, and scores result files.

The formats are the official ones:

- VQA results: `[{"question_id": 42000, "answer": "red"}, ...]`.
- VQA v2 questions: `{"questions": [{"image_id", "question", "question_id"}]}`
  and annotations: `{"annotations": [{"question_id", "image_id",
  "question_type", "answer_type", "multiple_choice_answer",
  "answers": [{"answer", "answer_confidence", "answer_id"}, ...]}]}`.
- POPE results: `[{"question_id": 1, "answer": "Yes, there is."}]`
  (scored by `vlpk.metrics.pope`).
- COCO caption results: `[{"image_id": 42, "caption": "a dog"}, ...]`.
- COCO caption annotations: `{"images": [...], "annotations":
  [{"image_id", "id", "caption"}, ...]}`.

Every problem raises `InputError` with a message that names the file and what
is wrong: not found, not JSON (with the line and column), the wrong top-level
type, a record (by index) missing a field or holding the wrong type, a
repeated id, or ids that do not match between files.
"""

from vlpk.data.records.example import get_field, read_json
from vlpk.errors import InputError, list_ids
from vlpk.metrics.captioning import METRICS, coco_caption_scores
from vlpk.metrics.vqa import vqa_accuracy


def read_vqa_predictions(path, what="VQA results"):
    """`{question_id: answer}` from a VQA (or POPE) results file.

    POPE's answers file has the VQA layout; `vlpk.metrics.pope` reads it
    here too.

    Args:
        path: a JSON list of `{"question_id": int, "answer": str}`.
        what: what the file is, for error messages.

    Returns:
        The answers, in file order.

    Raises:
        InputError: (a `ValueError`) when the file is missing or malformed, a
            record lacks a field or has the wrong type, or a question id
            repeats.

    Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "results.json")
    >>> with open(path, "w") as f:
    ...     json.dump([{"question_id": 1, "answer": "red"}], f)
    >>> read_vqa_predictions(path)
    {1: 'red'}
    """
    return _read_results(path, what, "question_id", "answer")


def read_vqa_ground_truth(questions_path, annotations_path):
    """The annotations `vqa_accuracy` takes, from the official VQA v2 files.

    Args:
        questions_path: the questions file (`{"questions": [...]}`).
        annotations_path: the annotations file (`{"annotations": [...]}`).

    Returns:
        `{question_id: {"answers": [str, ...], "answer_type": str,
        "question_type": str}}` in annotation-file order (the official
        evaluation's order).

    Raises:
        InputError: (a `ValueError`) when a file is missing or malformed, a
            record lacks a field or has the wrong type, a question id repeats,
            or the two files do not hold the same question ids.

    Example:
    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> questions = os.path.join(folder, "questions.json")
    >>> annotations = os.path.join(folder, "annotations.json")
    >>> with open(questions, "w") as f:
    ...     json.dump({"questions": [
    ...         {"image_id": 7, "question": "Why?", "question_id": 70}]}, f)
    >>> with open(annotations, "w") as f:
    ...     json.dump({"annotations": [{
    ...         "question_id": 70, "image_id": 7, "question_type": "why",
    ...         "answer_type": "other", "multiple_choice_answer": "fun",
    ...         "answers": [{"answer": "fun", "answer_confidence": "yes",
    ...                      "answer_id": 1}]}]}, f)
    >>> read_vqa_ground_truth(questions, annotations)[70]["answers"]
    ['fun']
    """
    question_ids = _read_question_ids(questions_path)
    data = read_json(annotations_path, "VQA annotations")
    records = get_field(data, "annotations", annotations_path, "the top level", list)
    annotations = {}
    first = {}
    for i, record in enumerate(records):
        where = f"annotations[{i}]"
        question_id = get_field(record, "question_id", annotations_path, where, int)
        fields = {
            key: get_field(record, key, annotations_path, where, str)
            for key in ("question_type", "answer_type")
        }
        answers = get_field(record, "answers", annotations_path, where, list)
        texts = [
            get_field(
                answer, "answer", annotations_path, f"{where}['answers'][{j}]", str
            )
            for j, answer in enumerate(answers)
        ]
        if not texts:
            raise InputError(f"{annotations_path}: {where} has no answers.")
        _check_new(
            question_id,
            i,
            first,
            annotations_path,
            "question_id",
            "one annotation",
            "annotations[{}]",
        )
        annotations[question_id] = {"answers": texts, **fields}
    _check_same_questions(question_ids, annotations, questions_path, annotations_path)
    return annotations


def read_caption_predictions(path):
    """`{image_id: caption}` from a COCO caption results file.

    Args:
        path: a JSON list of `{"image_id": int, "caption": str}`.

    Returns:
        The captions, in file order.

    Raises:
        InputError: (a `ValueError`) when the file is missing or malformed, a
            record lacks a field or has the wrong type, or an image id repeats
            (COCOEvalCap scores exactly one caption per image).

    Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "captions.json")
    >>> with open(path, "w") as f:
    ...     json.dump([{"image_id": 3, "caption": "a cat"}], f)
    >>> read_caption_predictions(path)
    {3: 'a cat'}
    """
    return _read_results(path, "COCO caption results", "image_id", "caption")


def read_caption_references(path):
    """`{image_id: [caption, ...]}` from a COCO caption annotations file.

    Args:
        path: a JSON object with `"annotations": [{"image_id": int,
            "caption": str, ...}]` (the COCO `captions_*.json` layout).

    Returns:
        The captions of each image, images in first-seen order, captions in
        file order.

    Raises:
        InputError: (a `ValueError`) when the file is missing or malformed, or
            an annotation lacks a field or has the wrong type.

    Example:
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "captions_val.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"images": [{"id": 3}], "annotations": [
    ...         {"image_id": 3, "id": 1, "caption": "a cat"},
    ...         {"image_id": 3, "id": 2, "caption": "a kitten"}]}, f)
    >>> read_caption_references(path)
    {3: ['a cat', 'a kitten']}
    """
    data = read_json(path, "COCO caption annotations")
    records = get_field(data, "annotations", path, "the top level", list)
    references = {}
    for i, record in enumerate(records):
        where = f"annotations[{i}]"
        image_id = get_field(record, "image_id", path, where, int)
        caption = get_field(record, "caption", path, where, str)
        references.setdefault(image_id, []).append(caption)
    return references


def evaluate_vqa_files(predictions, questions, annotations):
    """The official VQA accuracy of a results file.

    Args:
        predictions: path of the VQA results file.
        questions: path of the VQA v2 questions file.
        annotations: path of the VQA v2 annotations file.

    Returns:
        The dict of `vlpk.metrics.vqa.vqa_accuracy`.

    Raises:
        InputError: (a `ValueError`) for a malformed file, or when the results
            do not answer exactly the annotated questions.

    Example:
    >>> import json, os, tempfile
    >>> from vlpk.data.synthetic import write_shapes
    >>> root = tempfile.mkdtemp()  # Shapes writes the VQA v2 files
    >>> val = write_shapes(root, image_size=24, splits={"val": 2},
    ...                    progress=False)["splits"]["val"]
    >>> with open(val["questions"]) as f:
    ...     questions = json.load(f)["questions"]
    >>> results = os.path.join(root, "results.json")
    >>> with open(results, "w") as f:  # a model that always answers "yes"
    ...     json.dump([{"question_id": q["question_id"], "answer": "yes"}
    ...                for q in questions], f)
    >>> print(vqa_table(evaluate_vqa_files(results, val["questions"],
    ...                                    val["annotations"])))
    VQA accuracy (%), 12 questions
    overall     16.67
    number       0.00
    other        0.00
    yes/no      66.67
    """
    ground_truth = read_vqa_ground_truth(questions, annotations)
    answers = read_vqa_predictions(predictions)
    try:
        return vqa_accuracy(answers, ground_truth)
    except InputError as error:
        raise InputError(f"{predictions} (against {annotations}): {error}") from None


def evaluate_caption_files(predictions, references):
    """COCO caption scores of a results file, with the number of images.

    Args:
        predictions: path of the COCO caption results file.
        references: path of the COCO caption annotations file.

    Returns:
        The dict of `vlpk.metrics.captioning.coco_caption_scores` plus
        `"images"`, the number of images scored.

    Raises:
        InputError: (a `ValueError`) for a malformed file, a result image
            without references, or a missing Java runtime or pycocoevalcap.

    Example:
    >>> import json, os, tempfile
    >>> from vlpk.data.synthetic import shapes_paths, write_shapes
    >>> root = tempfile.mkdtemp()
    >>> _ = write_shapes(root, image_size=24, splits={"test": 3}, progress=False)
    >>> references = shapes_paths(root, "test")["captions"]  # COCO's layout
    >>> captions = [{"image_id": image_id, "caption": "a red circle"}
    ...             for image_id in read_caption_references(references)]
    >>> with open(os.path.join(root, "results.json"), "w") as f:
    ...     json.dump(captions, f)
    >>> # Not run here: METEOR's Java scorer loads its tables for about 7 s, and
    >>> # `coco_caption_scores`'s example already runs it.
    >>> print(caption_table(evaluate_caption_files(  # doctest: +SKIP
    ...     os.path.join(root, "results.json"), references)))
    Caption scores (x100), 3 images
    Bleu_1     11.3
    Bleu_2      5.6
    Bleu_3      0.0
    Bleu_4      0.0
    METEOR      9.3
    ROUGE_L    29.3
    CIDEr      34.2
    """
    captions = read_caption_predictions(predictions)
    reference_captions = read_caption_references(references)
    try:
        scores = coco_caption_scores(reference_captions, captions)
    except InputError as error:
        raise InputError(f"{predictions} (against {references}): {error}") from None
    return {**scores, "images": len(captions)}


def vqa_table(result):
    """A printable table of a `vqa_accuracy` result: overall and per answer type.

    Example:
    >>> print(vqa_table({"overall": 63.333, "perAnswerType": {"yes/no": 65.0},
    ...                  "perQuestionType": {}, "questions": 3}))
    VQA accuracy (%), 3 questions
    overall     63.33
    yes/no      65.00
    """
    rows = [("overall", result["overall"]), *result["perAnswerType"].items()]
    width = max(10, *(len(name) for name, _ in rows))
    lines = [f"VQA accuracy (%), {result['questions']} questions"]
    lines += [f"{name:<{width}} {value:6.2f}" for name, value in rows]
    return "\n".join(lines)


def caption_table(scores):
    """A printable table of caption scores, multiplied by 100 for reading.

    The dict keeps pycocoevalcap's raw values; only the table scales them.

    Example:
    >>> print(caption_table({"Bleu_4": 0.3051, "CIDEr": 0.853, "images": 2}))
    Caption scores (x100), 2 images
    Bleu_4     30.5
    CIDEr      85.3
    """
    rows = [(name, scores[name]) for name in METRICS if name in scores]
    title = "Caption scores (x100)"
    if "images" in scores:
        title += f", {scores['images']} images"
    return "\n".join(
        [title] + [f"{name:<8} {100 * value:6.1f}" for name, value in rows]
    )


def _read_results(path, description, id_field, value_field):
    """`{id: value}` from a results list, one record per id."""
    fields = f'{{"{id_field}", "{value_field}"}}'
    results, first = {}, {}
    for i, record in enumerate(_read_list(path, description, fields)):
        where = f"record {i}"
        key = get_field(record, id_field, path, where, int)
        value = get_field(record, value_field, path, where, str)
        _check_new(key, i, first, path, id_field, f"one {value_field}")
        results[key] = value
    return results


def _read_list(path, description, fields):
    data = read_json(path, description)
    if not isinstance(data, list):
        raise InputError(
            f"{path}: a {description} file should hold a JSON list of "
            f"{fields} records, got a JSON {_json_type(data)}."
        )
    return data


def _read_question_ids(path):
    data = read_json(path, "VQA questions")
    records = get_field(data, "questions", path, "the top level", list)
    first = {}
    for i, record in enumerate(records):
        question_id = get_field(record, "question_id", path, f"questions[{i}]", int)
        _check_new(
            question_id, i, first, path, "question_id", "one question", "questions[{}]"
        )
    return first


def _check_new(key, index, first, path, field, rule, where="record {}"):
    """Records `key` at `index` in `first`, or raises if it was seen before."""
    if key in first:
        raise InputError(
            f"{path}: {where.format(index)} repeats {field} {key!r} (first at "
            f"{where.format(first[key])}); the format has {rule} per {field}. "
            "Remove the duplicate."
        )
    first[key] = index


def _check_same_questions(question_ids, annotations, questions_path, annotations_path):
    only_questions = [q for q in question_ids if q not in annotations]
    only_annotations = [q for q in annotations if q not in question_ids]
    if only_questions or only_annotations:
        raise InputError(
            f"{questions_path} and {annotations_path} do not hold the same "
            f"question ids: {len(only_questions)} only in the questions file"
            f"{_examples(only_questions)}, {len(only_annotations)} only in the "
            f"annotations file{_examples(only_annotations)}. Use the questions "
            "and annotations files of the same split."
        )


def _examples(ids):
    return f" ({list_ids(ids)})" if ids else ""


def _json_type(value):
    names = {dict: "object", list: "list", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)
