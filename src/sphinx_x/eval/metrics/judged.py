"""Benchmarks graded by a judge model: MM-Vet and LLaVA-Bench (in-the-wild).

Both take ``judge=``: a :class:`~sphinx_x.eval.judge.Judge`, a ``judge.*`` mapping, or None (then
``SPHINX_X_JUDGE_*`` from the environment); without one they raise
:class:`~sphinx_x.eval.judge.JudgeNotConfigured` naming the fields to set. A question whose verdict
cannot be had (judge unreachable, or no readable score after ``judge.max_attempts`` asks) is counted
in ``judge_failed``: MM-Vet scores it 0.0, as the official evaluator does after five tries;
LLaVA-Bench leaves it out of both means (the official script would average in a [-1, -1] pair).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sphinx_x.eval.judge import Judge, JudgeConfig, Verdict, chat_request, resolve_judge
from sphinx_x.eval.metrics.base import EvalMetric, as_rows, cat_rows, check_lengths, ratio
from sphinx_x.eval.metrics.judge_prompts import LLAVA_RULES, LLAVA_SYSTEM, llava_review, mmvet_query

MMVET_CAPABILITIES: tuple[str, ...] = ("rec", "ocr", "know", "gen", "spat", "math")
LLAVA_CATEGORIES: tuple[str, ...] = ("conv", "detail", "complex")
JudgeOption = Judge | JudgeConfig | Mapping[str, Any] | None


def float_rows(values: Sequence[float], device: torch.device) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)


def cat_floats(state: Tensor | list[Tensor]) -> Tensor:
    if isinstance(state, list) and not state:
        return torch.zeros(0, dtype=torch.float64)
    return (torch.cat(state) if isinstance(state, list) else state).double()


# --- MM-Vet ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MMVetTarget:
    """The question, the ground truth (``<AND>`` / ``<OR>`` as in the file) and its capabilities."""

    question: str
    answer: str
    capabilities: tuple[str, ...]


def parse_mmvet_score(content: str) -> float | None:
    """The official reading: the reply's first space-separated word as a float in [0, 1], else None."""
    first = content.split(" ")[0].strip()
    try:
        score = float(first)
    except ValueError:
        return None
    return score if 0.0 <= score <= 1.0 else None


class MMVetScore(EvalMetric):
    """Targets: :class:`MMVetTarget`. ``compute()``: ``score`` (mean judge score, the paper's total / 100),
    ``score[capability=<c>]`` over the questions needing capability c, ``score[integration=<a>_<b>]``
    per capability combination (sorted names), and ``judge_failed``."""

    def __init__(self, judge: JudgeOption = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.judge = resolve_judge(judge, "mmvet", required=True)
        self.add_rows("scores")
        self.add_rows("capabilities")
        self.add_sum("failed")

    def verdicts(self, predictions: Sequence[str | None], targets: Sequence[MMVetTarget]) -> list[Verdict | None]:
        check_lengths(predictions, targets)
        assert self.judge is not None
        judge = self.judge

        def grade(pair: tuple[str | None, MMVetTarget]) -> Verdict | None:
            prediction, target = pair
            if prediction is None:
                return None  # no answer: 0.0 without asking

            def build(attempt: int) -> dict[str, Any]:  # retries add the digit hint and 0.5 temperature each
                query = mmvet_query(target.question, target.answer, prediction, retry=attempt > 1)
                return chat_request(judge.model, [{"role": "user", "content": query}],
                                    temperature=min(2.0, 0.5 * (attempt - 1)), max_tokens=3)

            return judge.ask("mmvet", build, parse_mmvet_score, label=target.question[:80])

        return judge.map(grade, list(zip(predictions, targets, strict=True)))

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[MMVetTarget]) -> list[float]:
        """The judge's score in [0, 1] per question (0.0 when missing or not graded)."""
        return [float(v.value) if v is not None and v.ok else 0.0 for v in self.verdicts(predictions, targets)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[MMVetTarget]) -> None:
        verdicts = self.verdicts(predictions, targets)
        masks = []
        for target in targets:
            unknown = set(target.capabilities) - set(MMVET_CAPABILITIES)
            if unknown:
                raise ValueError(f"unknown MM-Vet capability {sorted(unknown)}; known: {MMVET_CAPABILITIES}")
            masks.append(sum(1 << MMVET_CAPABILITIES.index(c) for c in set(target.capabilities)))
        self.scores.append(float_rows([float(v.value) if v is not None and v.ok else 0.0 for v in verdicts],
                                      self.device))
        self.capabilities.append(as_rows(masks, self.device))
        self.failed += sum(v is not None and not v.ok for v in verdicts)

    def compute(self) -> dict[str, Tensor]:
        scores, masks = cat_floats(self.scores), cat_rows(self.capabilities)
        out = {"score": ratio(scores.sum(), torch.tensor(len(scores)))}
        for bit, name in enumerate(MMVET_CAPABILITIES):
            has = (masks >> bit) & 1 == 1
            if bool(has.any()):
                out[f"score[capability={name}]"] = ratio(scores[has].sum(), has.sum())
        for mask in sorted(set(masks.tolist())):
            names = "_".join(sorted(c for bit, c in enumerate(MMVET_CAPABILITIES) if mask >> bit & 1))
            rows = masks == mask
            out[f"score[integration={names}]"] = ratio(scores[rows].sum(), rows.sum())
        out["judge_failed"] = self.failed.double()
        return out


# --- LLaVA-Bench (in-the-wild) -----------------------------------------------------------------

@dataclass(frozen=True)
class LlavaBenchTarget:
    """The question, the image's context (caption), GPT-4's reference answer and the category."""

    question: str
    context: str
    reference: str
    category: str


def parse_llava_scores(content: str) -> list[float] | None:
    """Two scores on the reply's first line (comma or whitespace separated), else None.

    The official ``parse_score`` splits on single spaces, so "8, 9" fails there; here it reads."""
    parts = content.split("\n")[0].replace(",", " ").split()
    if len(parts) != 2:
        return None
    try:
        return [float(parts[0]), float(parts[1])]
    except ValueError:
        return None


class LlavaBenchScore(EvalMetric):
    """Targets: :class:`LlavaBenchTarget`. ``compute()``: ``relative_score`` = mean(model) / mean(GPT-4)
    over the graded questions (the paper prints x100) and per category ``relative_score[category=c]``;
    ``model_score`` and ``reference_score`` (means / 10); ``judge_failed``."""

    def __init__(self, judge: JudgeOption = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.judge = resolve_judge(judge, "llava_bench", required=True)
        self.add_rows("reference")
        self.add_rows("model")
        self.add_rows("category")
        self.add_rows("graded")

    def verdicts(self, predictions: Sequence[str | None], targets: Sequence[LlavaBenchTarget]) -> list[Verdict]:
        check_lengths(predictions, targets)
        assert self.judge is not None
        judge = self.judge
        for target in targets:
            if target.category not in LLAVA_CATEGORIES:
                raise ValueError(f"unknown LLaVA-Bench category {target.category!r}; known: {LLAVA_CATEGORIES}")

        def grade(pair: tuple[str | None, LlavaBenchTarget]) -> Verdict:
            prediction, target = pair
            content = llava_review(target.context, target.question, target.reference, prediction or "",
                                   LLAVA_RULES[f"llava_bench_{target.category}"])
            request = chat_request(judge.model, [{"role": "system", "content": LLAVA_SYSTEM},
                                                 {"role": "user", "content": content}],
                                   temperature=0.2, max_tokens=1024)
            return judge.ask("llava_bench", lambda attempt: request, parse_llava_scores, label=target.question[:80])

        return judge.map(grade, list(zip(predictions, targets, strict=True)))

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[LlavaBenchTarget]) -> list[float]:
        """The model's judge score / 10 per question (0.0 when not graded)."""
        return [v.value[1] / 10 if v.ok else 0.0 for v in self.verdicts(predictions, targets)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[LlavaBenchTarget]) -> None:
        verdicts = self.verdicts(predictions, targets)
        self.reference.append(float_rows([v.value[0] if v.ok else 0.0 for v in verdicts], self.device))
        self.model.append(float_rows([v.value[1] if v.ok else 0.0 for v in verdicts], self.device))
        self.category.append(as_rows([LLAVA_CATEGORIES.index(t.category) for t in targets], self.device))
        self.graded.append(as_rows([v.ok for v in verdicts], self.device))

    def compute(self) -> dict[str, Tensor]:
        reference, model = cat_floats(self.reference), cat_floats(self.model)
        category, graded = cat_rows(self.category), cat_rows(self.graded) == 1
        out = {"relative_score": ratio(model[graded].sum(), reference[graded].sum())}
        for index, name in enumerate(LLAVA_CATEGORIES):
            rows = graded & (category == index)
            if bool((category == index).any()):
                out[f"relative_score[category={name}]"] = ratio(model[rows].sum(), reference[rows].sum())
        out["model_score"] = ratio(model[graded].sum(), graded.sum()) / 10
        out["reference_score"] = ratio(reference[graded].sum(), graded.sum()) / 10
        out["judge_failed"] = (~graded).sum().double()
        return out
