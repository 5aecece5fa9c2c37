"""The official VQA accuracy: each normalization rule and each scoring step.

Every expected value is derived by hand in a comment from the rules of the
official `vqaEval.py` (see the `vlpk.metrics.vqa` module doc).
"""

import pytest

from vlpk.data.formats.vqa_answers import soft_scores
from vlpk.errors import InputError
from vlpk.metrics.vqa import normalize_answer, vqa_accuracy


def score(answers, prediction):
    """The overall accuracy of one question."""
    annotations = {
        1: {"answers": answers, "answer_type": "other", "question_type": "what"}
    }
    return vqa_accuracy({1: prediction}, annotations)["overall"]


# --- processPunctuation ---------------------------------------------------


def test_trailing_period_is_deleted():
    # "." not followed by a digit matches periodStrip: deleted.
    assert normalize_answer("yes.") == "yes"
    assert normalize_answer("3.") == "3"


def test_decimal_point_stays():
    # "." followed by a digit is kept by the (?!\d) lookahead.
    assert normalize_answer("2.5") == "2.5"


def test_at_most_32_periods_are_deleted():
    # periodStrip.sub("", text, re.UNICODE): re.UNICODE == 32 is the count,
    # so of 40 periods 32 go and 8 stay.
    assert normalize_answer("x" + "." * 40) == "x" + "." * 8


def test_apostrophe_and_colon_are_not_punctuation():
    # Neither "'" nor ":" is in the official punct list.
    assert normalize_answer("it's") == "it's"
    assert normalize_answer("10:30") == "10:30"


def test_hyphen_without_spaces_becomes_a_space():
    # "t-shirt" has neither "- " nor " -", and no digit,digit: "-" -> " ".
    assert normalize_answer("t-shirt") == "t shirt"
    assert normalize_answer("t-shirt") == normalize_answer("t shirt")
    # ... but "tshirt" is another answer.
    assert normalize_answer("tshirt") == "tshirt"


def test_mark_next_to_a_space_is_deleted():
    # ", " is in the text, so "," is deleted: "yes no".
    assert normalize_answer("yes, no") == "yes no"
    # "t - shirt": "- " is in the text, "-" is deleted: "t  shirt" -> split.
    assert normalize_answer("t - shirt") == "t shirt"


def test_comma_without_spaces_becomes_a_space():
    # "red,blue": no ", " / " ,", no digit,digit: "," -> " ".
    assert normalize_answer("red,blue") == "red blue"
    # "a,b" -> "a b" -> the article "a" is dropped -> "b".
    assert normalize_answer("a,b") == "b"


def test_marks_are_tested_against_the_input_text():
    # ";" has no space next to it in "x-y;-z": -> " ", giving "x-y -z". "-"
    # is then tested on the *input* "x-y;-z" (no "- " or " -"), so it too
    # becomes a space: "x y  z" -> "x y z". Testing the rewritten text would
    # find " -" and delete both hyphens: "xy z".
    assert normalize_answer("x-y;-z") == "x y z"


def test_comma_between_digits_deletes_every_mark():
    # commaStrip (\d)(\,)(\d) matches, so every mark is deleted, not spaced.
    assert normalize_answer("1,000") == "1000"
    assert normalize_answer("1,000 t-shirts") == "1000 tshirts"


def test_brackets_and_exclamation():
    # "(" and ")" have no space next to them: each -> " "; split drops them.
    assert normalize_answer("(left)") == "left"
    # "!" at the end has no space after it: -> " "; lowercased: "yes".
    assert normalize_answer("Yes!") == "yes"


# --- processDigitArticle --------------------------------------------------


def test_number_words_become_digits():
    # manualMap: none/zero -> 0, one..ten -> 1..10; nothing beyond ten.
    assert normalize_answer("Two") == "2"
    assert normalize_answer("none") == "0"
    assert normalize_answer("zero") == "0"
    assert normalize_answer("ten") == "10"
    assert normalize_answer("eleven") == "eleven"
    assert normalize_answer("two dogs") == "2 dogs"


def test_articles_are_dropped():
    assert normalize_answer("a dog") == "dog"
    assert normalize_answer("an apple") == "apple"
    assert normalize_answer("The Cat") == "cat"
    assert normalize_answer("on the left") == "on left"
    assert normalize_answer("the") == ""


def test_contractions_gain_their_apostrophe():
    assert normalize_answer("dont") == "don't"
    assert normalize_answer("isnt") == "isn't"
    assert normalize_answer("Whats up") == "what's up"


def test_contraction_table_quirks():
    # The key "Im" has a capital: lowercased "im" never matches it.
    assert normalize_answer("Im") == "im"
    # The reversed entry "somebody'd": "somebodyd".
    assert normalize_answer("somebody'd") == "somebodyd"


# --- leave-one-out scoring ------------------------------------------------


@pytest.mark.parametrize(
    "matching, expected",
    [
        # c annotators of 10 say "red". Leaving out one of them keeps c - 1
        # matches (c subsets), one of the others keeps c (10 - c subsets):
        (0, 0.0),  # all subsets 0
        (1, 30.0),  # (1 * 0 + 9 * 1/3) / 10 = 0.3
        (2, 60.0),  # (2 * 1/3 + 8 * 2/3) / 10 = 0.6
        (3, 90.0),  # (3 * 2/3 + 7 * 1) / 10 = 0.9
        (4, 100.0),  # (4 * 1 + 6 * 1) / 10 = 1.0
        (9, 100.0),
    ],
)
def test_leave_one_out_average(matching, expected):
    answers = ["red"] * matching + ["blue"] * (10 - matching)
    assert score(answers, "red") == expected


# Each case below is scored by hand from `VQAEval.evaluate` of
# Cloud-CV/VQA-Evaluation (which EvalAI runs): the prediction is always
# cleaned, punctuation-processed and digit/article-processed; the annotator
# answers are only punctuation-processed, and only when they disagree. The
# comments give what the variant vlpk followed before (GT-Vision-Lab master
# since 2021: both sides fully normalized only on disagreement) scored.


def test_prediction_is_normalized_against_unanimous_answers():
    # Ten identical answers stay as they are; the prediction is normalized
    # anyway: "Yes" -> "yes", "yes." -> "yes", "The horse." -> "horse".
    # 10 matches -> 1.0. (Before: 0, as nothing was normalized.)
    assert score(["yes"] * 10, "Yes") == 100.0
    assert score(["yes"] * 10, "yes.") == 100.0
    assert score(["yes"] * 10, "Yes!") == 100.0
    assert score(["horse"] * 10, "The horse.") == 100.0
    assert score(["dog"] * 10, "a dog") == 100.0
    # A number word becomes its digit: "two" -> "2". (Before: 0.)
    assert score(["2"] * 10, "two") == 100.0
    assert score(["yes"] * 10, "yes") == 100.0


def test_number_word_prediction_against_disagreeing_digits():
    # "Two." -> "two" -> "2"; the answers disagree, punctuation leaves them
    # as they are: 3 of 10 say "2" -> (3 * 2/3 + 7 * 1) / 10 = 0.9.
    assert score(["2"] * 3 + ["3"] * 7, "Two.") == 90.0
    assert score(["2"] * 3 + ["3"] * 7, "two") == 90.0


def test_annotator_number_words_are_not_mapped():
    # processDigitArticle never runs on the answers: "two" stays "two",
    # while the prediction "2" or "two" becomes "2". 0 matches.
    # (Before: both sides became "2", 0.9.)
    assert score(["two"] * 3 + ["three"] * 7, "2") == 0.0
    assert score(["two"] * 3 + ["three"] * 7, "two") == 0.0


def test_annotator_answers_keep_their_article():
    # Disagreeing answers get processPunctuation only: "the cat" keeps "the";
    # the prediction loses it ("the cat" -> "cat"). 0 matches either way.
    # (Before: both became "cat", 4 matches -> 1.0.)
    assert score(["the cat"] * 4 + ["dog"] * 6, "the cat") == 0.0
    assert score(["the cat"] * 4 + ["dog"] * 6, "Cat.") == 0.0
    # "dog" still matches its 6: 1.0.
    assert score(["the cat"] * 4 + ["dog"] * 6, "The dog") == 100.0


def test_annotator_punctuation_only_when_they_disagree():
    # Disagreeing: "yes." -> "yes", so all 10 match "yes".
    assert score(["yes"] * 9 + ["yes."], "yes") == 100.0
    # Unanimous: "yes." stays "yes." and the prediction "yes." becomes
    # "yes": no match.
    assert score(["yes."] * 10, "yes.") == 0.0
    # Case is never changed on the annotator side: only the 1 "yes" matches
    # -> (1 * 0 + 9 * 1/3) / 10 = 0.3.
    assert score(["Yes"] * 9 + ["yes"], "yes") == 30.0
    # "t-shirt" -> "t shirt" on both sides when they disagree.
    assert score(["t-shirt"] * 5 + ["shirt"] * 5, "T-shirt") == 100.0


def test_tabs_newlines_and_outer_spaces_are_cleaned_in_the_prediction_only():
    # .replace('\n', ' '), .replace('\t', ' ') and .strip() run on the
    # prediction, before its normalization.
    assert score(["yes"] * 10, " yes\n") == 100.0
    assert score(["yes"] * 10, "\tyes") == 100.0
    assert score(["red car"] * 10, "red\tcar") == 100.0
    # The answers are not cleaned: "red\tcar" and "yes " never match.
    # (Before: cleaned, 1.0 and 1.0.)
    assert score(["red\tcar"] * 10, "red car") == 0.0
    assert score(["yes "] * 10, "yes") == 0.0
    # One "yes " among nine "yes": 9 matches -> 1.0.
    assert score(["yes"] * 9 + ["yes "], "Yes") == 100.0


def test_breakdown_by_type_and_rounding():
    annotations = {
        # 10 x "yes", predicted "yes": 1.0.
        1: {
            "answers": ["yes"] * 10,
            "answer_type": "yes/no",
            "question_type": "is the",
        },
        # 1 of 10 says "no": 0.3.
        2: {
            "answers": ["no"] + ["yes"] * 9,
            "answer_type": "yes/no",
            "question_type": "is this",
        },
        # 2 of 10 say "2": 0.6.
        3: {
            "answers": ["2"] * 2 + ["3"] * 8,
            "answer_type": "number",
            "question_type": "how many",
        },
    }
    result = vqa_accuracy({1: "yes", 2: "no", 3: "2"}, annotations)
    assert result == {
        "overall": 63.33,  # 100 * (1.0 + 0.3 + 0.6) / 3 = 63.333...
        "perAnswerType": {"yes/no": 65.0, "number": 60.0},  # 100 * 1.3 / 2
        "perQuestionType": {"is the": 100.0, "is this": 30.0, "how many": 60.0},
        "questions": 3,
    }
    # Groups keep first-seen order, as the official dicts.
    assert list(result["perAnswerType"]) == ["yes/no", "number"]
    # Rounding to 2 decimals goes up too: 100 * 2 / 3 = 66.666... -> 66.67.
    result = vqa_accuracy({1: "yes", 2: "yes", 3: "4"}, annotations)
    # Question 2: 9 of 10 say "yes" -> 1.0; question 3: no match -> 0.
    assert result["overall"] == 66.67
    assert result["perAnswerType"] == {"yes/no": 100.0, "number": 0.0}


def test_inputs_are_not_modified():
    # The official evaluate normalizes the ground truth in place; we do not.
    annotations = {
        1: {
            "answers": ["Two."] * 2 + ["one"],
            "answer_type": "number",
            "question_type": "how many",
        }
    }
    vqa_accuracy({1: "2"}, annotations)
    assert annotations[1]["answers"] == ["Two.", "Two.", "one"]


# --- errors ---------------------------------------------------------------


def _annotations(question_ids):
    return {
        q: {"answers": ["yes"] * 10, "answer_type": "yes/no", "question_type": "is"}
        for q in question_ids
    }


def test_unknown_question_ids_are_named():
    with pytest.raises(
        InputError, match=r"1 prediction\(s\).*not in the annotations: 99\."
    ):
        vqa_accuracy({1: "yes", 2: "yes", 99: "no"}, _annotations([1, 2]))
    # A string id is not an int id: the repr shows the quotes.
    with pytest.raises(InputError, match=r"'1'"):
        vqa_accuracy({"1": "yes", 2: "yes"}, _annotations([1, 2]))
    # At most 5 ids are listed, then a count.
    predictions = {q: "yes" for q in range(1, 10)}
    with pytest.raises(InputError, match=r": 3, 4, 5, 6, 7 and 2 more\."):
        vqa_accuracy(predictions, _annotations([1, 2]))


def test_missing_predictions_are_counted():
    with pytest.raises(
        InputError, match=r"miss 2 of the 3 annotated questions, e\.g\. 2, 3\."
    ):
        vqa_accuracy({1: "yes"}, _annotations([1, 2, 3]))
    with pytest.raises(
        InputError, match=r"miss 8 of the 8 .* 0, 1, 2, 3, 4 and 3 more"
    ):
        vqa_accuracy({}, _annotations(range(8)))


def test_malformed_inputs():
    with pytest.raises(InputError, match="no annotated questions"):
        vqa_accuracy({}, {})
    with pytest.raises(InputError, match="question 1 should be a string, got int"):
        vqa_accuracy({1: 2}, _annotations([1]))
    with pytest.raises(InputError, match="question 1.*non-empty list of answers"):
        vqa_accuracy(
            {1: "yes"}, {1: {"answers": [], "answer_type": "a", "question_type": "b"}}
        )
    with pytest.raises(InputError, match="question 1 is missing the key 'answer_type'"):
        vqa_accuracy({1: "yes"}, {1: {"answers": ["yes"], "question_type": "b"}})


# --- agreement with the training targets ----------------------------------


@pytest.mark.parametrize("total", [10, 7, 3])
def test_soft_scores_agree_with_vqa_accuracy(total):
    # soft_scores implements the same leave-one-out formula; on plain
    # lowercase words normalization changes nothing, so both agree for
    # every count of "red" among `total` annotators.
    for count in range(total + 1):
        answers = ["red"] * count + ["blue"] * (total - count)
        expected = soft_scores(answers, ["red", "blue"]).get("red", 0.0)
        assert score(answers, "red") == round(100 * expected, 2), (total, count)


@pytest.mark.parametrize(
    "answers",
    [
        ["two"] * 3 + ["2"] * 3 + ["Two."] * 4,
        ["2"] * 10,
        ["two"] * 10,
        ["yes"] * 9 + ["yes."],
        ["yes."] * 10,
        ["Yes"] * 9 + ["yes"],
        ["the cat"] * 4 + ["cat"] * 2 + ["dog"] * 4,
        ["t-shirt"] * 5 + ["t shirt"] * 2 + ["shirt"] * 3,
    ],
)
def test_soft_scores_are_the_accuracy_of_predicting_each_class(answers):
    # The training target of a class is what the evaluation gives it as the
    # prediction, whatever the mix of forms among the annotators.
    vocabulary = ["2", "two", "yes", "cat", "the cat", "dog", "t shirt", "shirt"]
    scores = soft_scores(answers, vocabulary)
    for answer in vocabulary:
        expected = score(answers, answer)
        assert round(100 * scores.get(answer, 0.0), 2) == expected, answer
