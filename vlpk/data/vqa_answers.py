"""VQA v2 answer vocabulary and soft scores, as in the VQA literature.

VQA models classify over the most frequent answers (3,129 in the
bottom-up-attention line of work) and train on *soft* targets: an answer
given by `c` of the 10 annotators scores the official VQA accuracy,

    score(c) = mean over the n sets of n - 1 annotators of min(1, matches / 3)
             = ((n - c) * min(1, c / 3) + c * min(1, (c - 1) / 3)) / n

(leaving out one of the `n - c` other annotators keeps `c` matches; leaving
out one of the `c` who gave the answer keeps `c - 1`). For n = 10 that is
0.3, 0.6, 0.9 and 1.0 for c = 1, 2, 3 and 4 or more.

Answers are normalized as the official evaluation normalizes them
(`vlpk.metrics.vqa.normalize_answer`: punctuation, number words, articles,
contractions), as the bottom-up-attention preprocessing does, so "Two." and
"2" are one class and the classifier predicts answers in the form the
evaluation compares.
"""

import collections

import numpy as np

from vlpk.metrics.vqa import normalize_answer as official_normalize


def normalize_answer(answer):
    """The official VQA normalization, after turning tabs and newlines into
    spaces and stripping (as the official evaluation does first).

    Example:
    >>> normalize_answer(" Two red. ")
    '2 red'
    """
    answer = answer.replace("\n", " ").replace("\t", " ").strip()
    return official_normalize(answer)


def answer_vocabulary(examples, top_k=3129):
    """The `top_k` most frequent annotator answers (ties alphabetical).

    Args:
        examples: VQA `Example`s (their `answers`).
        top_k: the vocabulary size.

    Returns:
        A list of at most `top_k` normalized answers, most frequent first;
        answers empty after normalization are left out.

    Raises:
        ValueError: when `top_k` is not positive.

    Example:

    >>> from vlpk.data.records import Example
    >>> examples = [Example("a.jpg", 1, (), answers=("Yes", "yes.", "no"))]
    >>> answer_vocabulary(examples, top_k=2)
    ['yes', 'no']
    """
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}.")
    counts = collections.Counter(
        normalize_answer(a) for example in examples for a in example.answers
    )
    counts.pop("", None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [answer for answer, _ in ranked[:top_k]]


def soft_scores(answers, vocabulary):
    """`{answer: score}` for one question's annotator answers.

    Args:
        answers: the raw annotator answers (10 in VQA v2).
        vocabulary: the answer vocabulary; other answers are dropped.

    Returns:
        The VQA accuracy of each in-vocabulary answer given by at least one
        annotator (see the module doc), rounded to 6 decimals; `{}` when
        `answers` is empty.

    Example:
    >>> soft_scores(["red"] * 2 + ["blue"] * 8, ["red", "blue"])
    {'blue': 1.0, 'red': 0.6}
    """
    counts = collections.Counter(normalize_answer(a) for a in answers)
    known = set(vocabulary)
    total = len(answers)
    scores = {}
    if total == 0:
        return scores
    for answer, count in sorted(counts.items()):
        if answer not in known:
            continue
        # Leave out each annotator in turn: `count` of the subsets lose a match.
        score = (
            (total - count) * min(1.0, count / 3) + count * min(1.0, (count - 1) / 3)
        ) / total
        scores[answer] = round(score, 6)
    return scores


def soft_score_vector(answers, vocabulary):
    """`soft_scores` as a float32 vector aligned with `vocabulary`.

    Example:
    >>> soft_score_vector(["red"] * 3 + ["blue"] * 7, ["blue", "red", "green"])
    array([1. , 0.9, 0. ], dtype=float32)
    """
    index = {answer: i for i, answer in enumerate(vocabulary)}
    vector = np.zeros(len(vocabulary), "float32")
    for answer, score in soft_scores(answers, vocabulary).items():
        vector[index[answer]] = score
    return vector
