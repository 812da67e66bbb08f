"""Exact match after light normalisation (GQA, the demo world's held-out VQA).

GQA's official ``eval.py`` compares strings as given; models add capitals, a final period or an
article, so both sides are normalised here: lower-case, every ASCII punctuation mark replaced by a
space, the articles "a", "an", "the" dropped, whitespace collapsed ("The Dog." == "dog").
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio

_PUNCTUATION = str.maketrans({mark: " " for mark in string.punctuation})
_ARTICLES = frozenset({"a", "an", "the"})


def normalise_short_answer(text: str) -> str:
    words = text.lower().translate(_PUNCTUATION).split()
    return " ".join(word for word in words if word not in _ARTICLES)


def exact_match(prediction: str, target: str | Sequence[str]) -> bool:
    """True when the prediction equals the target (or any of several) after normalisation."""
    candidates = [target] if isinstance(target, str) else list(target)
    predicted = normalise_short_answer(prediction)
    return any(predicted == normalise_short_answer(c) for c in candidates)


class ExactMatch(EvalMetric):
    """Targets: the answer (or list of accepted answers). ``compute() -> {"accuracy"}``."""

    match = staticmethod(exact_match)  # (prediction, target) -> bool; subclasses compare otherwise

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_sum("correct")
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> list[float]:
        check_lengths(predictions, targets)
        return [float(p is not None and self.match(p, t)) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[str | Sequence[str]]) -> None:
        self.correct += int(sum(self.score_each(predictions, targets)))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": ratio(self.correct, self.total)}


