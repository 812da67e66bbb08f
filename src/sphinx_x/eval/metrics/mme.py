"""MME: per-subtask acc (per question) and acc+ (per image, both of its questions right).

Subtask score = (acc + acc+) * 100, so 200 at most; perception = sum over the 10 perception
subtasks, cognition = sum over the 4 cognition subtasks (official names below). Answers are read
as the official ``calculation.py`` reads them: lower-cased; "yes"/"no" as is, otherwise "yes" or
"no" found in the first four characters, else "other" (always wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, as_rows, cat_rows, check_lengths, ratio, stable_key

PERCEPTION: tuple[str, ...] = (
    "existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR",
)
COGNITION: tuple[str, ...] = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
SUBTASKS: tuple[str, ...] = PERCEPTION + COGNITION


@dataclass(frozen=True)
class MMETarget:
    """The answer ("Yes"/"No"), the subtask (official folder name) and the image it asks about."""

    answer: str
    subtask: str
    image: str


def parse_mme_answer(text: str) -> str:
    """``"yes"``, ``"no"`` or ``"other"``."""
    text = text.strip().lower()
    if text in ("yes", "no"):
        return text
    if "yes" in text[:4]:
        return "yes"
    if "no" in text[:4]:
        return "no"
    return "other"


class MMEScore(EvalMetric):
    """Targets: :class:`MMETarget`. ``compute()`` -> ``"perception"``, ``"cognition"`` and, per
    subtask present, ``"<subtask>/acc"``, ``"<subtask>/acc_plus"`` (fractions) and
    ``"<subtask>/score"`` (points)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_rows("subtask")
        self.add_rows("image")
        self.add_rows("correct")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[MMETarget]) -> list[float]:
        """1.0 / 0.0 per question (acc; acc+ pairs the two questions of an image)."""
        check_lengths(predictions, targets)
        for target in targets:
            if target.subtask not in SUBTASKS:
                raise ValueError(f"unknown MME subtask {target.subtask!r}; known: {SUBTASKS}")
        return [float(p is not None and parse_mme_answer(p) == t.answer.strip().lower())
                for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[MMETarget]) -> None:
        right = [score == 1.0 for score in self.score_each(predictions, targets)]
        self.subtask.append(as_rows([SUBTASKS.index(t.subtask) for t in targets], self.device))
        self.image.append(as_rows([stable_key(f"{t.subtask}/{t.image}") for t in targets], self.device))
        self.correct.append(as_rows(right, self.device))

    def compute(self) -> dict[str, Tensor]:
        subtasks, images, right = cat_rows(self.subtask), cat_rows(self.image), cat_rows(self.correct)
        scores: dict[str, Tensor] = {}
        totals = {"perception": torch.zeros((), dtype=torch.float64),
                  "cognition": torch.zeros((), dtype=torch.float64)}
        for index, name in enumerate(SUBTASKS):
            mask = subtasks == index
            if not bool(mask.any()):
                continue
            acc = ratio(right[mask].sum(), mask.sum())
            keys, inverse = torch.unique(images[mask], return_inverse=True)
            wrong = torch.zeros(len(keys), dtype=torch.int64, device=keys.device)
            wrong.index_add_(0, inverse, 1 - right[mask])
            acc_plus = ratio((wrong == 0).sum(), torch.tensor(len(keys)))
            score = (acc + acc_plus) * 100
            scores[f"{name}/acc"], scores[f"{name}/acc_plus"], scores[f"{name}/score"] = acc, acc_plus, score
            group = "perception" if name in PERCEPTION else "cognition"
            totals[group] = totals[group] + score.cpu()
        return {**totals, **scores}
