"""HallusionBench: aAcc (per question), fAcc (per figure) and qAcc (per question across its figures).

An answer is read as yes / no the way VLMEvalKit's ``YOrN_Extraction`` reads it: lower-cased,
punctuation -> spaces; "yes" among the words and not "no" -> yes, "no" and not "yes" -> no, else
unknown (always wrong). Right when yes matches ``gt_answer`` 1 and no matches 0. The official
``evaluation.py`` asks GPT-4 to compare the answer with ``gt_answer_details`` instead; the three
scores are built the same way from the per-question results:

- ``aAcc``: right questions / questions;
- ``fAcc``: figures (``category/subcategory/set_id/figure_id``) whose every question is right;
- ``qAcc``: questions (``category/subcategory/set_id/question_id``) right on every figure they are asked about.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, as_rows, cat_rows, check_lengths, ratio, stable_key

_PUNCTUATION = str.maketrans({mark: " " for mark in string.punctuation})


@dataclass(frozen=True)
class HallusionTarget:
    """``answer`` "1" (yes) or "0" (no); the figure and the question this one belongs to."""

    answer: str
    figure: str
    question: str


def parse_yes_no_words(text: str) -> str:
    """``"yes"``, ``"no"`` or ``"unknown"``."""
    words = text.lower().translate(_PUNCTUATION).split()
    if "yes" in words and "no" not in words:
        return "yes"
    if "no" in words and "yes" not in words:
        return "no"
    return "unknown"


def _all_right(keys: Tensor, right: Tensor) -> Tensor:
    groups, inverse = torch.unique(keys, return_inverse=True)
    wrong = torch.zeros(len(groups), dtype=torch.int64, device=keys.device)
    wrong.index_add_(0, inverse, 1 - right)
    return ratio((wrong == 0).sum(), torch.tensor(len(groups)))


class HallusionAccuracy(EvalMetric):
    """Targets: :class:`HallusionTarget`. ``compute() -> {"aAcc", "fAcc", "qAcc"}`` (fractions)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_rows("correct")
        self.add_rows("figure")
        self.add_rows("question")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[HallusionTarget]) -> list[float]:
        check_lengths(predictions, targets)
        expected = {"1": "yes", "0": "no"}
        for target in targets:
            if target.answer not in expected:
                raise ValueError(f"HallusionBench gt_answer must be '0' or '1', got {target.answer!r}")
        return [float(p is not None and parse_yes_no_words(p) == expected[t.answer])
                for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[HallusionTarget]) -> None:
        right = [score == 1.0 for score in self.score_each(predictions, targets)]
        self.correct.append(as_rows(right, self.device))
        self.figure.append(as_rows([stable_key(t.figure) for t in targets], self.device))
        self.question.append(as_rows([stable_key(t.question) for t in targets], self.device))

    def compute(self) -> dict[str, Tensor]:
        right = cat_rows(self.correct)
        return {"aAcc": ratio(right.sum(), torch.tensor(len(right))),
                "fAcc": _all_right(cat_rows(self.figure), right),
                "qAcc": _all_right(cat_rows(self.question), right)}
