"""The official VQA v2 accuracy, reproduced from the reference evaluation code.

The reference is `vqaEval.py` (`PythonEvaluationTools/vqaEvaluation/`) as
the VQA challenge server scores with it: github.com/Cloud-CV/VQA-Evaluation
(master, which EvalAI runs), identical in its scoring to
github.com/GT-Vision-Lab/VQA as released for VQA v2.0 (commit a4f1afd, 2017)
and to that repository's Python 3 port (branch `feature/update_style`);
Copyright (c) 2014, Aishwarya Agrawal, BSD 2-clause license. The
normalization tables below (`CONTRACTIONS`, `MANUAL_MAP`, `ARTICLES`,
`PERIOD_STRIP`, `COMMA_STRIP`, `PUNCT`) are copied from it entry for entry,
typos included, and the scoring follows `VQAEval.evaluate` step by step.

A question's accuracy, with `n` (10) annotator answers, leaves each annotator
out in turn and averages `min(1, matches / 3)` over the `n` subsets, where
`matches` counts the remaining annotators whose answer equals the prediction.
An answer given by 1, 2, 3 or 4+ of 10 annotators scores 0.3, 0.6, 0.9, 1.0.
`overall` is `round(100 * mean, 2)` over the questions; `perAnswerType` and
`perQuestionType` do the same within each group (the official `n=2`).

Quirks of the official code, reproduced on purpose (each quoted line is from
`vqaEval.py`):

1. The prediction is always normalized, the ground truth hardly. For every
   question, the prediction gets `.replace('\\n', ' ')`,
   `.replace('\\t', ' ')`, `.strip()`, then
   `resAns = self.processPunctuation(resAns)` and
   `resAns = self.processDigitArticle(resAns)`. The annotator answers get
   nothing at all when they are identical; only when they disagree
   (`if len(set(gtAnswers)) > 1:`) each gets
   `ansDic['answer'] = self.processPunctuation(ansDic['answer'])`, and never
   `processDigitArticle`, tab cleaning or stripping. So against ten "yes",
   "Yes", "yes." and " yes" all score 1; against ten "horse", "The horse."
   scores 1; but an annotator answer with a capital, an article or a number
   word ("the cat", "two") can never be matched, because the prediction it
   would need is lowercased, loses its article and becomes "2".
   `ground_truth_forms` gives the answers as the comparison sees them.
2. Punctuation is removed or replaced per character, based on the *input*
   text: `if (p + ' ' in inText or ' ' + p in inText) or
   (re.search(self.commaStrip, inText) != None):` deletes `p`
   (`outText.replace(p, '')`), else it becomes a space
   (`outText.replace(p, ' ')`). So "t-shirt" becomes "t shirt", "yes, no"
   becomes "yes no", and one comma between digits anywhere ("1,000") deletes
   every punctuation mark of the answer ("1,000 t-shirts" -> "1000 tshirts").
   The apostrophe and the colon are not in `punct`: "it's" and "10:30" stay.
   Case and spaces are kept: this is all an annotator answer ever gets.
3. The period regex `"(?!<=\\d)(\\.)(?!\\d)"` has a negative *lookahead*
   `(?!<=\\d)` where a lookbehind `(?<!\\d)` was meant; it never fails, so
   every period not followed by a digit is deleted ("3." -> "3", "2.5"
   stays). And `self.periodStrip.sub("", outText, re.UNICODE)` passes
   `re.UNICODE` (32) as the `count` argument: at most 32 periods are deleted.
4. `processDigitArticle` lowercases, splits on whitespace, maps number words
   with `manualMap` ("two" -> "2", "none" -> "0", up to "ten"), drops the
   articles "a", "an", "the", then maps whole words with `contractions`
   ("dont" -> "don't"). The keys with capitals ("Im", "Ive", "Id've",
   "I'dve") can never match lowercased words, and "somebody'd" maps to
   "somebodyd" (a reversed entry). The official `manualMap.setdefault(word,
   word)` also grows the table with every word it sees; that side effect does
   not change any score and is not reproduced.
5. Leave-one-out removes one annotator at a time:
   `otherGTAns = [item for item in gts[quesId]['answers'] if item!=gtAnsDatum]`
   compares answer *records*, which differ by `answer_id` in the official
   files; here the answers are plain strings, and annotator `i` is left out
   by position, which is the same.
6. `acc = min(1, float(len(matchingAns))/3)`, the question's accuracy is
   `avgGTAcc = float(sum(gtAcc))/len(gtAcc)` and the groups use it too (an
   older revision appended the last leave-one-out `acc` to the per-type lists
   instead; that bug was fixed upstream and is not reproduced). The summaries
   are `round(100*float(sum(accQA))/len(accQA), self.n)` with `n=2`, summed
   in annotation-file order, so even the floating-point rounding agrees.
7. `loadRes` asserts that the result question ids equal the annotation
   question ids (`assert set(annsQuesIds) == set(self.getQuesIds())`):
   `vqa_accuracy` raises `InputError` for unknown or missing question ids.

Variants that are *not* followed:

- GT-Vision-Lab/VQA master since commit a013f00 ("Fixed processing answers
  bug", 2021, still Python 2) normalizes nothing when the annotators agree
  and, when they disagree, both the prediction and the annotator answers
  with both functions (after cleaning them all). There, "Yes" against ten
  "yes" scores 0. No challenge server scores with it; vlpk followed it until
  December 2026, which made generated answers score low.
- Cloud-CV/VQA-Evaluation's `evalai` branch rewrites `processPunctuation`
  with regular expressions, which differ on rare inputs ("1,000 t-shirts"
  gives "1000 t shirts" there).

Python 3 semantics apply (`\\d` matches any Unicode digit), as in the Python
3 ports everyone runs today.
"""

import re

from vlpk.errors import InputError, list_ids

# The tables below are copied from vqaEval.py, entries and order unchanged,
# under its license:
#
# Copyright (c) 2014, Aishwarya Agrawal
# All rights reserved.
#
# Redistribution and use in source and binary forms, with or without
# modification, are permitted provided that the following conditions are met:
#
# 1. Redistributions of source code must retain the above copyright notice,
#    this list of conditions and the following disclaimer.
# 2. Redistributions in binary form must reproduce the above copyright notice,
#    this list of conditions and the following disclaimer in the documentation
#    and/or other materials provided with the distribution.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
# AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
# IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
# ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE
# LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
# CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
# SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
# INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
# CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
# ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
# POSSIBILITY OF SUCH DAMAGE.

CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}

MANUAL_MAP = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = ["a", "an", "the"]
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
PUNCT = [
    ";",
    r"/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
]

# The official `periodStrip.sub("", outText, re.UNICODE)` passes the flag as
# the `count` argument (quirk 4 of the module doc).
_PERIOD_STRIP_COUNT = int(re.UNICODE)


def process_punctuation(text):
    """The official `processPunctuation`: strips or spaces out punctuation.

    Each mark of `PUNCT` is deleted when the input has it next to a space, or
    when the input has a comma between digits anywhere; otherwise it becomes a
    space. Then every period not followed by a digit is deleted (at most 32,
    as officially). See quirks 3 and 4 of the module doc.

    Args:
        text: an answer.

    Returns:
        The answer with punctuation handled; case and spacing are kept.

    Example:
    >>> process_punctuation("t-shirt.")
    't shirt'
    """
    strip_all = COMMA_STRIP.search(text) is not None
    out = text
    for mark in PUNCT:
        # The test reads the input text, not the text being rewritten.
        if mark + " " in text or " " + mark in text or strip_all:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return PERIOD_STRIP.sub("", out, count=_PERIOD_STRIP_COUNT)


def process_digit_article(text):
    """The official `processDigitArticle`: number words, articles, contractions.

    Lowercases, splits on whitespace, maps number words to digits
    (`MANUAL_MAP`), drops the articles, then maps contractions written without
    an apostrophe (`CONTRACTIONS`), and joins the words with single spaces.

    Args:
        text: an answer.

    Returns:
        The normalized answer.

    Example:
    >>> process_digit_article("The Two dogs dont")
    "2 dogs don't"
    """
    words = [MANUAL_MAP.get(word, word) for word in text.lower().split()]
    words = [word for word in words if word not in ARTICLES]
    return " ".join(CONTRACTIONS.get(word, word) for word in words)


def normalize_answer(answer):
    """The official normalization of a prediction: punctuation, then digits
    and articles.

    This is `processPunctuation` followed by `processDigitArticle`, which the
    official evaluation applies to every prediction (after turning tabs and
    newlines into spaces and stripping, which this function leaves to the
    caller). It does not lowercase before punctuation handling, like the
    original. The annotator answers are compared as `ground_truth_forms`
    gives them, not through this function.

    Args:
        answer: a predicted answer.

    Returns:
        The normalized answer, e.g. `"2"` for `"Two."`.

    Example:
    >>> normalize_answer("The T-shirt isnt red!")
    "t shirt isn't red"
    """
    return process_digit_article(process_punctuation(answer))


def ground_truth_forms(answers):
    """The annotator answers as the official evaluation compares them.

    Unchanged when they are all identical; each passed through
    `process_punctuation` only (no lowercasing, no number words, no
    articles, no stripping) when they disagree. A prediction scores a match
    for each form equal to its `normalize_answer` form (quirk 1 of the
    module doc).

    Args:
        answers: one question's annotator answers, as strings.

    Returns:
        A list of the same length.

    Example:
    >>> ground_truth_forms(["Two", "two."])
    ['Two', 'two']
    >>> ground_truth_forms(["yes", "yes"])
    ['yes', 'yes']
    """
    if len(set(answers)) > 1:
        return [process_punctuation(answer) for answer in answers]
    return list(answers)


def vqa_accuracy(predictions, annotations):
    """The official VQA accuracy: overall, per answer type, per question type.

    Args:
        predictions: `{question_id: answer}`, one predicted answer (a str)
            for every annotated question, as the official evaluation requires.
        annotations: `{question_id: {"answers": [...], "answer_type": str,
            "question_type": str}}`, with the annotator answers as strings
            (10 in VQA v2), in the order of the annotation file (the sums run
            in that order, as officially). `read_vqa_ground_truth` in
            `vlpk.metrics.result_files` builds it from the official files.

    Returns:
        `{"overall": float, "perAnswerType": {type: float},
        "perQuestionType": {type: float}, "questions": int}`: accuracies in
        percent rounded to 2 decimals, groups in first-seen order, and the
        number of questions scored.

    Raises:
        InputError: (a `ValueError`) when a prediction's question id is not
            annotated, when annotated questions have no prediction, when an
            answer is not a string, or when an annotation is malformed or has
            no answers.

    Example:
    >>> annotations = {1: {"answers": ["2"] * 3 + ["two"] + ["3"] * 6,
    ...                    "answer_type": "number",
    ...                    "question_type": "how many"}}
    >>> vqa_accuracy({1: "Two."}, annotations)["overall"]
    90.0
    """
    _check_ids(predictions, annotations)
    per_question = []
    per_answer_type = {}
    per_question_type = {}
    for question_id, annotation in annotations.items():
        answers, answer_type, question_type = _read_annotation(question_id, annotation)
        prediction = predictions[question_id]
        if not isinstance(prediction, str):
            raise InputError(
                f"The prediction for question {question_id!r} should be a "
                f"string, got {type(prediction).__name__}."
            )
        accuracy = _question_accuracy(answers, prediction)
        per_question.append(accuracy)
        per_answer_type.setdefault(answer_type, []).append(accuracy)
        per_question_type.setdefault(question_type, []).append(accuracy)
    return {
        "overall": _percent(per_question),
        "perAnswerType": {k: _percent(v) for k, v in per_answer_type.items()},
        "perQuestionType": {k: _percent(v) for k, v in per_question_type.items()},
        "questions": len(per_question),
    }


def _question_accuracy(answers, prediction):
    """One question's accuracy, step by step as `VQAEval.evaluate`."""
    prediction = normalize_answer(_clean(prediction))
    answers = ground_truth_forms(answers)
    leave_one_out = []
    for left_out in range(len(answers)):
        matches = sum(
            1
            for i, answer in enumerate(answers)
            if i != left_out and answer == prediction
        )
        leave_one_out.append(min(1, float(matches) / 3))
    return float(sum(leave_one_out)) / len(leave_one_out)


def _clean(answer):
    return answer.replace("\n", " ").replace("\t", " ").strip()


def _percent(accuracies):
    # The official expression, operation order included.
    return round(100 * float(sum(accuracies)) / len(accuracies), 2)


def _read_annotation(question_id, annotation):
    where = f"The annotation of question {question_id!r}"
    if not isinstance(annotation, dict):
        raise InputError(f"{where} should be a dict, got {type(annotation).__name__}.")
    for key in ("answers", "answer_type", "question_type"):
        if key not in annotation:
            raise InputError(f"{where} is missing the key {key!r}.")
    answers = annotation["answers"]
    if not isinstance(answers, (list, tuple)) or not answers:
        raise InputError(f"{where} should have a non-empty list of answers.")
    if not all(isinstance(answer, str) for answer in answers):
        raise InputError(f"{where} has an answer that is not a string.")
    return answers, annotation["answer_type"], annotation["question_type"]


def _check_ids(predictions, annotations):
    if not annotations:
        raise InputError("There are no annotated questions to evaluate.")
    unknown = [qid for qid in predictions if qid not in annotations]
    if unknown:
        raise InputError(
            f"{len(unknown)} prediction(s) have a question id that is not in "
            f"the annotations: {list_ids(unknown)}. Predict the questions of "
            "the annotation file you evaluate against (check the split, and "
            "that the ids are integers)."
        )
    missing = [qid for qid in annotations if qid not in predictions]
    if missing:
        raise InputError(
            f"The predictions miss {len(missing)} of the {len(annotations)} "
            f"annotated questions, e.g. {list_ids(missing)}. The official "
            "evaluation scores every question: predict them all, or evaluate "
            "against annotations restricted to the questions you predicted."
        )
