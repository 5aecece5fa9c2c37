"""VQA v2 answer vocabulary and soft scores, as in the VQA literature.

VQA models classify over the most frequent answers (3,129 in the
bottom-up-attention line of work) and train on *soft* targets: an answer
given by `c` of the 10 annotators scores the official VQA accuracy,

    score(c) = mean over the n sets of n - 1 annotators of min(1, matches / 3)
             = ((n - c) * min(1, c / 3) + c * min(1, (c - 1) / 3)) / n

(leaving out one of the `n - c` other annotators keeps `c` matches; leaving
out one of the `c` who gave the answer keeps `c - 1`). For n = 10 that is
0.3, 0.6, 0.9 and 1.0 for c = 1, 2, 3 and 4 or more.

Both follow the official evaluation's comparison (`vlpk.metrics.vqa`): a
predicted answer is normalized (`normalize_answer`: punctuation, number
words, articles, contractions), the annotator answers only as far as
`ground_truth_forms` goes (punctuation, and only when the annotators
disagree). So a class is credited for exactly the annotator answers the
official evaluation credits it for, and the target of a class is the
accuracy the evaluation would give that prediction:

- the vocabulary counts the annotator answers some prediction can match
  (those equal to their own `normalize_answer` form, such as "2" or "yes"),
  and leaves out those no prediction can match (ten "Two" or "the cat");
- "yes." among disagreeing "yes" answers counts as "yes", as officially;
  ten "two" do not credit the class "2", as officially.

Before December 2026 vlpk normalized the annotator answers fully, which
credited "2" for "two" and "cat" for "the cat" where the evaluation does not.
"""

import collections
import functools

import numpy as np

from vlpk.metrics.vqa import ground_truth_forms
from vlpk.metrics.vqa import normalize_answer as official_normalize


def normalize_answer(answer):
    """The official VQA normalization of a prediction, after turning tabs and
    newlines into spaces and stripping (as the official evaluation does
    first).

    Example:
    >>> normalize_answer(" Two red. ")
    '2 red'
    """
    answer = answer.replace("\n", " ").replace("\t", " ").strip()
    return official_normalize(answer)


def answer_vocabulary(examples, top_k=3129):
    """The `top_k` answers most often credited by the official evaluation.

    Counts, over all questions, each annotator answer (as
    `ground_truth_forms` gives it) that a prediction can match: one equal to
    its own normalized form. Ties are broken alphabetically.

    Args:
        examples: VQA `Example`s (their `answers`).
        top_k: the vocabulary size.

    Returns:
        A list of at most `top_k` answers in normalized form, most frequent
        first; empty answers are left out.

    Raises:
        ValueError: when `top_k` is not positive.

    Example:

    >>> from vlpk.data.records.example import Example
    >>> examples = [
    ...     Example("a.jpg", 1, (), answers=("yes", "yes.", "no")),
    ...     Example("b.jpg", 2, (), answers=("Two", "Two")),
    ... ]
    >>> answer_vocabulary(examples, top_k=3)
    ['yes', 'no']
    """
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}.")
    counts = collections.Counter(
        form
        for example in examples
        for form in ground_truth_forms(example.answers)
        if form and official_normalize(form) == form
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [answer for answer, _ in ranked[:top_k]]


def soft_scores(answers, vocabulary):
    """`{answer: score}` for one question's annotator answers.

    Args:
        answers: the raw annotator answers (10 in VQA v2).
        vocabulary: the answer vocabulary; other answers are dropped.

    Returns:
        For each vocabulary answer that the official evaluation credits at
        least once, the VQA accuracy it would score as the prediction (see
        the module doc), rounded to 6 decimals, in alphabetical order; `{}`
        when `answers` is empty.

    Example:
    >>> soft_scores(["red"] * 2 + ["blue"] * 8, ["red", "blue"])
    {'blue': 1.0, 'red': 0.6}
    >>> soft_scores(["two"] * 10, ["2", "two"])
    {}
    """
    counts = collections.Counter(ground_truth_forms(answers))
    total = len(answers)
    scores = {}
    classes = _classes_by_form(tuple(vocabulary))
    credited = [
        (a, count) for form, count in counts.items() for a in classes.get(form, ())
    ]
    for answer, count in sorted(credited):
        # Leave out each annotator in turn: `count` of the subsets lose a match.
        score = (
            (total - count) * min(1.0, count / 3) + count * min(1.0, (count - 1) / 3)
        ) / total
        scores[answer] = round(score, 6)
    return scores


@functools.lru_cache(maxsize=8)
def _classes_by_form(vocabulary):
    """`{normalized form: [classes]}`: a class is predicted as it is written
    and the evaluation normalizes it. Cached, as one vocabulary scores every
    question of a split."""
    classes = {}
    for answer in dict.fromkeys(vocabulary):
        classes.setdefault(normalize_answer(answer), []).append(answer)
    return classes


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
