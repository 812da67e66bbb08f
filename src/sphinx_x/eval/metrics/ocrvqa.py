"""OCR-VQA accuracy as the SPHINX authors score it (``evaluate_exact_match_accuracy`` in
LLaMA2-Accessory's ``eval_mm/utils/metric.py``): periods removed from both sides, then stripped,
lower-cased and compared; right when equal to the answer (or any of several)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio


def strict_match(prediction: str, target: str | Sequence[str]) -> bool:
    answers = [target] if isinstance(target, str) else list(target)
    said = prediction.replace(".", "").strip().lower()
    return any(said == answer.replace(".", "").strip().lower() for answer in answers)


class StrictMatch(EvalMetric):
    """Targets: the answer (or accepted answers). ``compute() -> {"accuracy"}``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_sum("correct")
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> list[float]:
        check_lengths(predictions, targets)
        return [float(p is not None and strict_match(p, t)) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> None:
        self.correct += int(sum(self.score_each(predictions, targets)))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": ratio(self.correct, self.total)}
