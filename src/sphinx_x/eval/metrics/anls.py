"""ANLS, Average Normalized Levenshtein Similarity (DocVQA, InfographicsVQA).

The rule of the official Robust Reading Competition script (``evaluate_method`` in the DocVQA /
InfographicsVQA evaluation script from rrc.cvc.uab.es, the file Qwen-VL ships as
``eval_mm/infographicsvqa_eval.py`` and lmms-eval copies as ``anls``), for each question:

- every answer and the prediction are normalised as ``" ".join(s.strip().lower().split())``
  (case-insensitive, surrounding and repeated whitespace ignored) and their edit distance taken;
- ``NL = distance / max(len(answer.upper()), len(prediction.upper()))``: the length is that of the
  *original*, un-normalised strings (as the script writes it), so padding whitespace lengthens the
  denominator; ``NL = 0`` when both are empty;
- ``score = 1 - min(NL over the answers)``, set to 0 when ``score < threshold`` (0.5). A score of
  exactly 0.5 (NL = 0.5) is kept: only a similarity strictly below the threshold becomes 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit insertions, deletions and substitutions."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _normalise(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls_score(prediction: str, answers: Sequence[str], threshold: float = 0.5) -> float:
    """ANLS of one prediction against the accepted answers, by the official RRC rule (module docstring)."""
    if not answers:
        raise ValueError("ANLS needs at least one ground-truth answer")
    predicted = _normalise(prediction)
    distances = []
    for answer in answers:
        length = max(len(answer.upper()), len(prediction.upper()))
        distances.append(0.0 if length == 0 else float(levenshtein(_normalise(answer), predicted)) / float(length))
    similarity = 1 - min(distances)
    return 0.0 if similarity < threshold else similarity


class ANLS(EvalMetric):
    """Targets: the accepted answers of each question. ``compute() -> {"anls"}``."""

    def __init__(self, threshold: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold
        self.add_sum("score", torch.float64)
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[Sequence[str]]) -> list[float]:
        check_lengths(predictions, targets)
        return [0.0 if p is None else anls_score(p, t, self.threshold) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[Sequence[str]]) -> None:
        self.score += sum(self.score_each(predictions, targets))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"anls": ratio(self.score, self.total)}
