"""VQA accuracy (VQAv2, OK-VQA, VizWiz, TextVQA): the ten-annotator soft score.

Per question, the mean over the leave-one-annotator-out subsets (10 choose 9 for ten answers) of
``min(1, #annotators in the subset who gave the prediction / 3)``. Two modes:

- ``"default"``: prediction and every human answer always go through
  :func:`~sphinx_x.eval.metrics.vqa_normalisation.normalise_vqa_answer` (as TextVQA's evaluator
  and lmms-eval's answer processor do, on both sides).
- ``"official"``: exactly ``VQAEval.evaluate`` of the official VQA API (GT-Vision-Lab/VQA,
  ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` at its latest commit a013f00, "Fixed
  processing answers bug"): newlines and tabs become spaces and both sides are stripped; then,
  *only if the human answers are not all identical*, ``processPunctuation`` and
  ``processDigitArticle`` are applied to the human answers and to the prediction. When all ten
  agree, nothing else is normalised: "Yes" does not match ten "yes". Its period rule removes at
  most 32 periods (``re.UNICODE`` passed as ``count``), kept here. Its leave-one-out drops the
  one answer dict (each has a distinct ``answer_id``), i.e. one position, as here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio
from sphinx_x.eval.metrics.vqa_normalisation import (
    OFFICIAL_MAX_PERIODS,
    normalise_vqa_answer,
    process_digit_article,
    process_punctuation,
)

VQAMode = Literal["default", "official"]
VQA_MODES: tuple[str, ...] = get_args(VQAMode)


def _leave_one_out(predicted: str, humans: Sequence[str]) -> float:
    accuracies = [min(1, float(sum(1 for j, a in enumerate(humans) if j != i and a == predicted)) / 3)
                  for i in range(len(humans))]
    return float(sum(accuracies)) / len(accuracies)


def _official_clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def _official_process(text: str) -> str:
    return process_digit_article(process_punctuation(text, max_periods=OFFICIAL_MAX_PERIODS))


def vqa_score(prediction: str, answers: Sequence[str], mode: VQAMode = "default") -> float:
    """One question's VQA accuracy in ``mode`` (see the module docstring)."""
    if not answers:
        raise ValueError("VQA accuracy needs at least one human answer")
    if mode == "default":
        return _leave_one_out(normalise_vqa_answer(prediction), [normalise_vqa_answer(a) for a in answers])
    if mode != "official":
        raise ValueError(f"VQA accuracy mode must be one of {VQA_MODES}, got {mode!r}")
    predicted = _official_clean(prediction)
    humans = [_official_clean(a) for a in answers]
    if len(set(humans)) > 1:
        humans = [_official_process(a) for a in humans]
        predicted = _official_process(predicted)
    return _leave_one_out(predicted, humans)


class VQAAccuracy(EvalMetric):
    """Targets: the human answers of each question. ``compute() -> {"accuracy"}``.

    ``mode="official"`` reproduces the official VQA evaluation script (module docstring)."""

    def __init__(self, mode: VQAMode = "default", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in VQA_MODES:
            raise ValueError(f"VQA accuracy mode must be one of {VQA_MODES}, got {mode!r}")
        self.mode = mode
        self.add_sum("score", torch.float64)
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[Sequence[str]]) -> list[float]:
        check_lengths(predictions, targets)
        return [0.0 if p is None else vqa_score(p, t, self.mode) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[Sequence[str]]) -> None:
        self.score += sum(self.score_each(predictions, targets))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": ratio(self.score, self.total)}
