"""POPE (object hallucination): accuracy, precision, recall, F1 and yes-ratio, "yes" positive.

Answers are read as the official POPE script reads them: keep the text before the first period,
drop commas, and it is "no" if one of its words is "No", "no" or "not", otherwise "yes" (we split
on any whitespace rather than single spaces, so a trailing newline does not turn "No" into yes).
A missing prediction counts as the wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio


def parse_yes_no(text: str) -> str:
    """``"yes"`` or ``"no"``, as the official POPE evaluation parses an answer."""
    sentence = text.split(".")[0].replace(",", "")
    words = sentence.split()
    return "no" if ("No" in words or "no" in words or "not" in words) else "yes"


class PopeMetrics(EvalMetric):
    """Targets: the label "yes" or "no". ``compute() -> {"accuracy", "precision", "recall", "f1",
    "yes_ratio"}``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("tp", "fp", "tn", "fn"):
            self.add_sum(name)

    def _read(self, predictions: Sequence[str | None], targets: Sequence[str]) -> list[tuple[str, str]]:
        """(label, answer read) per question; a missing prediction reads as the wrong answer."""
        check_lengths(predictions, targets)
        pairs = []
        for prediction, target in zip(predictions, targets, strict=True):
            label = target.strip().lower()
            if label not in ("yes", "no"):
                raise ValueError(f"POPE labels are 'yes' or 'no', got {target!r}")
            pairs.append((label, ("no" if label == "yes" else "yes") if prediction is None else parse_yes_no(prediction)))
        return pairs

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[str]) -> list[float]:
        """1.0 where the answer read equals the label."""
        return [float(label == said) for label, said in self._read(predictions, targets)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[str]) -> None:
        for label, said in self._read(predictions, targets):
            if said == "yes":
                if label == "yes":
                    self.tp += 1
                else:
                    self.fp += 1
            elif label == "no":
                self.tn += 1
            else:
                self.fn += 1

    def compute(self) -> dict[str, Tensor]:
        total = self.tp + self.fp + self.tn + self.fn
        precision = ratio(self.tp, self.tp + self.fp)
        recall = ratio(self.tp, self.tp + self.fn)
        return {
            "accuracy": ratio(self.tp + self.tn, total),
            "precision": precision,
            "recall": recall,
            "f1": ratio(2 * precision * recall, precision + recall),
            "yes_ratio": ratio(self.tp + self.fp, total),
        }
