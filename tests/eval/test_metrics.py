"""Scorers against hand-computed official scores."""

from __future__ import annotations

import pytest

from sphinx_x.data.geometry import ImageFrame
from sphinx_x.eval.metrics import (
    ANLS,
    ChoiceTarget,
    ExactMatch,
    MMEScore,
    MMETarget,
    MultipleChoiceAccuracy,
    PopeMetrics,
    RecAccuracy,
    RecTarget,
    RelaxedAccuracy,
    VQAAccuracy,
    anls_score,
    extract_choice,
    normalise_short_answer,
    normalise_vqa_answer,
    parse_mme_answer,
    parse_yes_no,
    relaxed_correct,
    vqa_score,
)
from sphinx_x.eval.metrics.vqa_normalisation import process_punctuation


def scores(metric) -> dict[str, float]:
    return {k: float(v) for k, v in metric.compute().items()}


# --- VQA normalisation and accuracy -----------------------------------------------------------

@pytest.mark.parametrize(("raw", "normal"), [
    ("Two.", "2"),                 # period not before a digit is deleted, number word -> digit
    ("none", "0"),
    ("1,000", "1000"),             # comma between digits: every mark deleted, not spaced
    ("1,000 dogs!", "1000 dogs"),
    ("red,white", "red white"),    # a mark touching no space becomes a space
    ("yes, it is", "yes it is"),   # a mark touching a space is deleted
    ("t-shirt", "t shirt"),
    ("3.5", "3.5"),                # period before a digit stays
    ("2.5.", "2.5"),
    ("a dog", "dog"),              # articles dropped after lower-casing
    ("The Dog", "dog"),
    ("dont", "don't"),             # official contractions table restores the apostrophe
    ("whats up", "what's up"),
    ("it's", "it's"),              # apostrophes are not punctuation; "its" is no contraction
    ("its", "its"),
    ("  on the\ttable\n", "on table"),
])
def test_vqa_normalisation(raw: str, normal: str) -> None:
    assert normalise_vqa_answer(raw) == normal


def test_vqa_leave_one_out_two_of_ten_humans() -> None:
    answers = ["2", "2"] + ["3"] * 8
    # Leaving out one of the 2 matching humans leaves 1 match: min(1/3, 1) = 1/3 (twice).
    # Leaving out one of the 8 others leaves 2 matches: min(2/3, 1) = 2/3 (eight times).
    # (2 * 1/3 + 8 * 2/3) / 10 = (2/3 + 16/3) / 10 = 6 / 10 = 0.6
    assert vqa_score("Two.", answers) == pytest.approx(0.6)


@pytest.mark.parametrize(("matching", "expected"), [
    (0, 0.0),
    (1, 0.3),   # (1 * 0 + 9 * 1/3) / 10
    (3, 0.9),   # (3 * 2/3 + 7 * 1) / 10
    (4, 1.0),   # (4 * 1 + 6 * 1) / 10
    (10, 1.0),
])
def test_vqa_leave_one_out_counts(matching: int, expected: float) -> None:
    answers = ["yes"] * matching + ["no"] * (10 - matching)
    assert vqa_score("Yes", answers) == pytest.approx(expected)


def test_vqa_metric_averages_and_scores_missing_as_zero() -> None:
    metric = VQAAccuracy()
    metric.update(["1,000", "a dog", None], [["1000"] * 10, ["dog"] * 3 + ["cat"] * 7, ["dog"] * 10])
    # 1.0 + 0.9 + 0 (missing) over 3 questions
    assert scores(metric) == {"accuracy": pytest.approx(1.9 / 3)}


def test_vqa_metric_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        VQAAccuracy().update(["a", "b"], [["a"]])


# Official mode: GT-Vision-Lab/VQA vqaEval.py (a013f00). Both sides: "\n"/"\t" -> " ", strip. Only
# when the ten human answers differ are processPunctuation + processDigitArticle applied to both.
@pytest.mark.parametrize(("prediction", "answers", "official", "default"), [
    # all ten agree: the prediction is compared as written (after the whitespace rule)
    ("yes", ["yes"] * 10, 1.0, 1.0),
    (" yes\n", ["yes"] * 10, 1.0, 1.0),
    ("Yes", ["yes"] * 10, 0.0, 1.0),               # no lower-casing when all agree
    ("yes.", ["yes"] * 10, 0.0, 1.0),              # nor punctuation
    ("two", ["two"] * 10, 1.0, 1.0),               # raw human answers are not normalised either
    ("2", ["two"] * 10, 0.0, 1.0),
    ("Two", ["two."] * 10, 0.0, 1.0),
    # mixed answers: both sides processed. "Yes." -> "yes": 3 matches -> (3 * 2/3 + 7 * 1) / 10
    ("Yes.", ["yes"] * 3 + ["no"] * 7, 0.9, 0.9),
    # "Two" -> "2"; "two." -> "two" -> "2": 2 matches -> (2 * 1/3 + 8 * 2/3) / 10 = 0.6
    ("Two", ["2", "two."] + ["3"] * 8, 0.6, 0.6),
    ("The Dog!", ["dog"] * 4 + ["a dog"] * 2 + ["cat"] * 4, 1.0, 1.0),  # 6 matches -> 1 in every subset
])
def test_vqa_official_mode(prediction: str, answers: list[str], official: float, default: float) -> None:
    assert vqa_score(prediction, answers, mode="official") == pytest.approx(official)
    assert vqa_score(prediction, answers) == pytest.approx(default)


def test_vqa_official_period_rule_stops_after_32_periods() -> None:
    # The script passes re.UNICODE (32) as periodStrip.sub's count.
    assert process_punctuation("a." * 40, max_periods=32) == "a" * 32 + "a." * 8
    assert process_punctuation("a." * 40) == "a" * 40
    answers = ["b"] + ["a" * 40] * 9  # mixed, so both sides are processed; the prediction keeps 8 periods
    assert vqa_score("a." * 40, answers, mode="official") == 0.0
    assert vqa_score("a." * 40, answers) == 1.0


def test_vqa_metric_official_mode() -> None:
    targets = [["yes"] * 10, ["yes"] * 10, ["2", "two."] + ["3"] * 8]
    official, default = VQAAccuracy(mode="official"), VQAAccuracy()
    for metric in (official, default):
        metric.update(["Yes", "yes", "Two"], targets)
    assert scores(official) == {"accuracy": pytest.approx((0.0 + 1.0 + 0.6) / 3)}
    assert scores(default) == {"accuracy": pytest.approx((1.0 + 1.0 + 0.6) / 3)}
    assert official.score_each(["Yes", "yes", None], targets) == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="mode must be one of"):
        VQAAccuracy(mode="strict")


# --- exact match ------------------------------------------------------------------------------

def test_exact_match_normalisation() -> None:
    assert normalise_short_answer("The  Dog.") == "dog"
    metric = ExactMatch()
    metric.update(["The Dog.", "dogs", "Left", None], ["dog", "dog", ["right", "left"], "dog"])
    assert scores(metric) == {"accuracy": pytest.approx(0.5)}


# --- ANLS -------------------------------------------------------------------------------------

# Official RRC rule: NL = edit distance of the normalised strings (strip, lower, collapse spaces)
# / max(len(answer.upper()), len(prediction.upper())) of the raw strings; score = 1 - min NL, 0
# only when below 0.5.
@pytest.mark.parametrize(("prediction", "answers", "expected"), [
    ("abcf", ["abcd"], 0.75),                    # 1 edit / 4
    ("helo world", ["hello world"], 10 / 11),   # 1 edit / 11
    ("  Hello   World ", ["hello world"], 1.0),  # normalised equal: distance 0
    ("abxy", ["abcd"], 0.5),                     # 2 / 4: NL exactly 0.5 is kept
    ("abxyz", ["abcde"], 0.0),                   # 3 / 5 = 0.6: similarity 0.4 < 0.5 -> 0
    ("  helo world  ", ["hello world"], 13 / 14),  # raw prediction is 14 long: 1 - 1/14
    ("helo world", ["  hello world  "], 14 / 15),  # raw answer is 15 long: 1 - 1/15
    ("\u00df", ["s"], 0.5),                      # "ß": 1 edit / len("SS") = 2 -> 0.5, kept
    ("abxde", ["zzzzz", "abcde"], 0.8),          # the best answer counts: 1 - 1/5
    ("", [""], 1.0),                             # both empty: NL = 0
])
def test_anls_official_rule(prediction: str, answers: list[str], expected: float) -> None:
    assert anls_score(prediction, answers) == pytest.approx(expected)


def test_anls_metric() -> None:
    metric = ANLS()
    predictions, targets = ["helo world", "abxy", None], [["hello world"], ["abcd"], ["x"]]
    metric.update(predictions, targets)
    assert scores(metric) == {"anls": pytest.approx((10 / 11 + 0.5 + 0.0) / 3)}
    assert metric.score_each(predictions, targets) == pytest.approx([10 / 11, 0.5, 0.0])


# --- ChartQA relaxed accuracy -----------------------------------------------------------------

# Official rule (pix2struct relaxed_correctness): float() (a trailing "%" divides by 100); numbers
# with a non-zero label: |p - t| / |t| <= 0.05; otherwise p.lower() == t.lower().
@pytest.mark.parametrize(("prediction", "target", "correct"), [
    ("105", "100", True),      # |105 - 100| / 100 = 0.05: on the boundary, accepted
    ("95", "100", True),
    ("105.1", "100", False),
    ("94.9", "100", False),
    ("1.05", "1", False),      # abs(1.05 - 1) = 0.050000000000000044 in floating point: rejected
    (" 12", "12", True),       # float() ignores surrounding whitespace
    ("1,000", "1000", False),  # float("1,000") fails: string comparison
    ("1,050", "1000", False),
    ("1,000", "1,000", True),
    ("45%", "0.45", True),     # "%" divides by 100
    ("45%", "45", False),      # ... as the official scorer does
    ("0", "0", True),          # target 0: string comparison
    ("0.0", "0", False),
    ("0", "0.0", False),
    ("nan", "nan", False),     # both numbers: nan <= 0.05 is False
    ("Yes", "yes", True),
    ("Brazil ", "brazil", False),  # lower() only, no stripping
    ("Chile", "brazil", False),
])
def test_relaxed_accuracy(prediction: str, target: str, correct: bool) -> None:
    assert relaxed_correct(prediction, target) is correct


@pytest.mark.parametrize(("prediction", "target", "correct"), [
    ("1,000", "1000", True),
    ("1,050", "1000", True),   # 50 / 1000 = 0.05
    ("1,060", "1000", False),
    ("1000", "1,000", True),
    ("1,000,000", "1000000", True),
    ("1, 000", "1000", False),  # only commas between two digits
])
def test_relaxed_accuracy_remove_digit_commas_option(prediction: str, target: str, correct: bool) -> None:
    assert relaxed_correct(prediction, target, remove_digit_commas=True) is correct


def test_relaxed_metric() -> None:
    predictions, targets = ["105", "106", None, "Blue", "1,000"], ["100", "100", "1", ["red", "blue"], "1000"]
    official, commas = RelaxedAccuracy(), RelaxedAccuracy(remove_digit_commas=True)
    for metric in (official, commas):
        metric.update(predictions, targets)
    assert scores(official) == {"relaxed_accuracy": pytest.approx(2 / 5)}
    assert scores(commas) == {"relaxed_accuracy": pytest.approx(3 / 5)}
    assert official.score_each(predictions, targets) == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert commas.score_each(predictions, targets) == [1.0, 0.0, 0.0, 1.0, 1.0]


# --- multiple choice --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "letter"), [
    ("The answer is (B).", "B"),
    ("B", "B"),
    ("b", None),
    ("C.", "C"),
    ("(C) a red car", "C"),
    ("D: the dog", "D"),
    ("Answer: D", "D"),
    ("the answer is a cat", None),   # lower-case "a" is a word, not an option
    ("A cat is on the mat", None),   # the article "A" is not a choice
    ("I think it is D", "D"),
    ("E", None),                     # not one of the options
    ("", None),
])
def test_extract_choice(text: str, letter: str | None) -> None:
    assert extract_choice(text, "ABCD") == letter


def test_extract_choice_by_option_text() -> None:
    options = {"A": "blue car", "B": "red car"}
    assert extract_choice("Red car.", list(options), options) == "B"
    assert extract_choice("a green car", list(options), options) is None


def test_multiple_choice_accuracy() -> None:
    options = {"A": "cat", "B": "dog", "C": "cow"}
    metric = MultipleChoiceAccuracy()
    metric.update(["The answer is (B).", "dog", "A", None], [ChoiceTarget("B", options)] * 4)
    assert scores(metric) == {"accuracy": pytest.approx(0.5)}


def test_circular_eval_counts_a_question_only_if_every_shift_is_right() -> None:
    q1 = [ChoiceTarget(answer, {"A": "w", "B": "x", "C": "y", "D": "z"}, group="1") for answer in "ABCD"]
    q2 = [ChoiceTarget(answer, {"A": "w", "B": "x", "C": "y", "D": "z"}, group="2") for answer in "DCBA"]
    metric = MultipleChoiceAccuracy(circular=True)
    metric.update(["A", "B", "C", "D"], q1)          # all four shifts right
    metric.update(["D", "C", "B", "B"], q2)          # last shift wrong
    # per-row accuracy 7/8; circular: question 1 passes, question 2 fails -> 1/2
    assert scores(metric) == {"accuracy": pytest.approx(7 / 8), "circular_accuracy": pytest.approx(0.5)}


def test_circular_eval_groups_meet_across_processes() -> None:
    targets = [ChoiceTarget(a, {"A": "x", "B": "y"}, group="7") for a in "AB"]
    rank0, rank1 = MultipleChoiceAccuracy(circular=True), MultipleChoiceAccuracy(circular=True)
    rank0.update(["A"], targets[:1])
    rank1.update(["A"], targets[1:])  # wrong shift scored on the other rank
    rank0.merge_state(rank1)
    assert scores(rank0)["circular_accuracy"] == 0.0


# --- POPE -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parsed"), [
    ("Yes, there is a dog.", "yes"),
    ("No.", "no"),
    ("No\n", "no"),
    ("There is a dog, not a cat.", "no"),
    ("There is no dog", "no"),
    ("I see a dog. No cat.", "yes"),   # only the first sentence is read
    ("yes", "yes"),
])
def test_pope_parse(text: str, parsed: str) -> None:
    assert parse_yes_no(text) == parsed


def test_pope_counts() -> None:
    metric = PopeMetrics()
    labels = ["yes", "yes", "yes", "no", "no", "no"]
    predictions = ["Yes, there is.", "No.", "Yes", "No, there is not.", "yes", None]
    # TP: 1st, 3rd; FN: 2nd; TN: 4th; FP: 5th and the missing 6th (scored as the wrong answer)
    metric.update(predictions, labels)
    precision, recall = 2 / 4, 2 / 3
    assert scores(metric) == {
        "accuracy": pytest.approx(3 / 6),
        "precision": pytest.approx(precision),
        "recall": pytest.approx(recall),
        "f1": pytest.approx(2 * precision * recall / (precision + recall)),  # 4/7
        "yes_ratio": pytest.approx(4 / 6),
    }


# --- MME --------------------------------------------------------------------------------------

def test_mme_answer_parsing() -> None:
    assert parse_mme_answer("Yes, it is.") == "yes"
    assert parse_mme_answer("no") == "no"
    assert parse_mme_answer("The answer is no") == "other"


def test_mme_acc_plus_per_image() -> None:
    metric = MMEScore()
    metric.update(
        ["Yes", "No", "Yes", "yes", "No", "No"],
        [MMETarget("Yes", "color", "a.jpg"), MMETarget("No", "color", "a.jpg"),   # image a: both right
         MMETarget("Yes", "color", "b.jpg"), MMETarget("No", "color", "b.jpg"),   # image b: one wrong
         MMETarget("Yes", "code_reasoning", "c.png"), MMETarget("No", "code_reasoning", "c.png")],
    )
    # color: acc 3/4, acc+ 1/2 -> (0.75 + 0.5) * 100 = 125; code_reasoning: acc 1/2, acc+ 0 -> 50
    assert scores(metric) == {
        "perception": pytest.approx(125.0), "cognition": pytest.approx(50.0),
        "color/acc": pytest.approx(0.75), "color/acc_plus": pytest.approx(0.5), "color/score": pytest.approx(125.0),
        "code_reasoning/acc": pytest.approx(0.5), "code_reasoning/acc_plus": 0.0,
        "code_reasoning/score": pytest.approx(50.0),
    }


def test_mme_images_meet_across_processes() -> None:
    rank0, rank1 = MMEScore(), MMEScore()
    rank0.update(["Yes"], [MMETarget("Yes", "OCR", "x.jpg")])
    rank1.update(["No"], [MMETarget("No", "OCR", "x.jpg")])
    rank0.merge_state(rank1)
    assert scores(rank0)["OCR/acc_plus"] == 1.0


def test_mme_rejects_unknown_subtask() -> None:
    with pytest.raises(ValueError, match="unknown MME subtask 'colour'"):
        MMEScore().update(["Yes"], [MMETarget("Yes", "colour", "a.jpg")])


# --- REC --------------------------------------------------------------------------------------

def test_rec_through_non_square_top_left_frame() -> None:
    # 200x100 image in a 448 square, anchored top-left: scale 2.24, content 448x224, padding below.
    # Normalised coordinates are therefore x / 200 and y / 200 (both divided by the long side).
    target = RecTarget(box=(50.0, 25.0, 150.0, 75.0), width=200, height=100)
    metric = RecAccuracy(side=448, grid=2, anchor="top_left")
    metric.update(
        [
            "<p>dog</p> [0.25, 0.125, 0.75, 0.375]",  # exactly the GT box: IoU 1
            "[0.25, 0.25, 0.75, 0.75]",                 # normalised by height instead: y 50..100, IoU 1/3
            "[0.00, 0.00, 0.10, 0.10]; [0.25, 0.125, 0.75, 0.375]",  # only the first box counts
            "a dog",                                    # no box
            None,                                       # missing
        ],
        [target] * 5,
    )
    assert scores(metric) == {"accuracy": pytest.approx(1 / 5)}


def test_rec_iou_threshold_and_frame_override() -> None:
    # pixels [50, 25, 130, 75] vs GT [50, 25, 150, 75]: IoU 80/100 = 0.8 -> right;
    # [50, 25, 100, 60] vs GT: inter 50x35 = 1750, union 5000 -> 0.35 -> wrong
    target = RecTarget(box=(50.0, 25.0, 150.0, 75.0), width=200, height=100)
    metric = RecAccuracy()
    metric.update(["[0.25, 0.125, 0.65, 0.375]", "[0.25, 0.125, 0.50, 0.30]"], [target, target])
    assert scores(metric) == {"accuracy": pytest.approx(0.5)}

    centred = ImageFrame.fit(200, 100, 448, 2, anchor="center")  # content at y 112..336
    override = RecTarget(box=(50.0, 25.0, 150.0, 75.0), width=200, height=100, frame=centred)
    metric = RecAccuracy()
    metric.update(["[0.25, 0.375, 0.75, 0.625]"], [override])  # y: (0.375 * 448 - 112) / 2.24 = 25
    assert scores(metric) == {"accuracy": 1.0}


# --- per-question scores ----------------------------------------------------------------------

def _rec_target() -> RecTarget:
    return RecTarget(box=(50.0, 25.0, 150.0, 75.0), width=200, height=100)


@pytest.mark.parametrize(("metric", "predictions", "targets", "expected", "key"), [
    (VQAAccuracy(), ["Two.", "dog", None], [["2", "2"] + ["3"] * 8, ["cat"] * 10, ["x"] * 10],
     [0.6, 0.0, 0.0], "accuracy"),
    (ANLS(), ["abcf", "abxy", None], [["abcd"], ["abcd"], ["x"]], [0.75, 0.5, 0.0], "anls"),
    (RelaxedAccuracy(), ["105", "Chile", None], ["100", "brazil", "1"], [1.0, 0.0, 0.0], "relaxed_accuracy"),
    (ExactMatch(), ["The Dog.", "cat", None], ["dog", "dog", "dog"], [1.0, 0.0, 0.0], "accuracy"),
    (MultipleChoiceAccuracy(), ["(B)", "A", None], [ChoiceTarget("B", {"A": "x", "B": "y"})] * 3,
     [1.0, 0.0, 0.0], "accuracy"),
    (PopeMetrics(), ["Yes", "No", None], ["yes", "yes", "no"], [1.0, 0.0, 0.0], "accuracy"),
    (MMEScore(), ["Yes", "yes", None], [MMETarget("Yes", "color", "a.jpg"), MMETarget("No", "color", "a.jpg"),
                                        MMETarget("No", "color", "b.jpg")], [1.0, 0.0, 0.0], "color/acc"),
    (RecAccuracy(), ["[0.25, 0.125, 0.75, 0.375]", "a dog", None], [_rec_target()] * 3, [1.0, 0.0, 0.0], "accuracy"),
])
def test_score_each_is_what_the_total_averages(metric, predictions: list[str | None], targets: list,
                                               expected: list[float], key: str) -> None:
    each = metric.score_each(predictions, targets)
    assert each == pytest.approx(expected)
    metric.update(predictions, targets)
    assert scores(metric)[key] == pytest.approx(sum(each) / len(each))
