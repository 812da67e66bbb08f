"""Relaxed accuracy (ChartQA): numbers may be off by 5% relative, anything else must match.

By default this is the rule of ``relaxed_correctness`` in google-research/pix2struct
``pix2struct/metrics.py`` (the ChartQA scorer that Qwen-VL and lmms-eval copy), per label:

- a text is a number if Python's ``float()`` reads it; a trailing ``"%"`` is stripped and the
  value divided by 100 (``"45%"`` -> 0.45). ``"1,000"`` is *not* a number;
- when both prediction and label are numbers and the label is not 0,
  ``|prediction - label| / |label| <= 0.05`` (floating point, exactly as written: 105 vs 100 is
  right, 1.05 vs 1 is not, since ``abs(1.05 - 1) > 0.05`` in binary floating point);
- otherwise (a label of 0 included) ``prediction.lower() == label.lower()``: exact match up to
  case, with no stripping;
- a question with several labels is right if one of them is.

Option ``remove_digit_commas=True`` (off by default, not part of the official rule) removes commas
between digits before reading numbers, so ``"1,000"`` matches ``1000``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio

_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")


def parse_number(text: str, remove_digit_commas: bool = False) -> float | None:
    """The official ``_to_float``: ``"12.5"`` -> 12.5, ``"45%"`` -> 0.45; None when ``float()`` fails.

    With ``remove_digit_commas``, ``"1,000"`` -> 1000.0.
    """
    if remove_digit_commas:
        text = _DIGIT_COMMA.sub("", text)
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


def relaxed_correct(prediction: str, target: str, tolerance: float = 0.05, remove_digit_commas: bool = False) -> bool:
    """Official pix2struct ``relaxed_correctness(target, prediction)`` (module docstring)."""
    predicted = parse_number(prediction, remove_digit_commas)
    expected = parse_number(target, remove_digit_commas)
    if predicted is not None and expected:
        return abs(predicted - expected) / abs(expected) <= tolerance
    return prediction.lower() == target.lower()


class RelaxedAccuracy(EvalMetric):
    """Targets: the label (or several accepted labels). ``compute() -> {"relaxed_accuracy"}``."""

    def __init__(self, tolerance: float = 0.05, remove_digit_commas: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tolerance = tolerance
        self.remove_digit_commas = remove_digit_commas
        self.add_sum("correct")
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> list[float]:
        check_lengths(predictions, targets)
        scores = []
        for prediction, target in zip(predictions, targets, strict=True):
            labels = [target] if isinstance(target, str) else target
            right = prediction is not None and any(
                relaxed_correct(prediction, label, self.tolerance, self.remove_digit_commas) for label in labels)
            scores.append(1.0 if right else 0.0)
        return scores

    def update(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> None:
        self.correct += int(sum(self.score_each(predictions, targets)))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"relaxed_accuracy": ratio(self.correct, self.total)}
