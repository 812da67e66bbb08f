"""Multiple-choice accuracy (ScienceQA-IMG, SEED, AI2D, MMBench) and MMBench's CircularEval.

The option letter is read from free text by :func:`extract_choice`; an answer from which no
letter can be read is wrong. CircularEval (MMBench) asks every question once per circular shift
of its options and counts it only if all shifts are right; shifts share ``ChoiceTarget.group``
(the MMBench index before shifting).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, as_rows, cat_rows, check_lengths, ratio, stable_key


@dataclass(frozen=True)
class ChoiceTarget:
    """The right letter, the options shown (letter -> text) and the CircularEval group."""

    answer: str
    options: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None


_PUNCTUATION = str.maketrans({mark: " " for mark in string.punctuation})


def _plain(text: str) -> str:
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def extract_choice(text: str, letters: Sequence[str] = "ABCD",
                   options: Mapping[str, str] | None = None) -> str | None:
    """The option letter a free-text answer picks, or None.

    In order: a leading letter ("B", "B.", "(B) cat", "B: cat"); "answer is (B)" / "Answer: B";
    a letter in parentheses anywhere; the full text of exactly one option; one distinct
    stand-alone capital letter ("I think D"), not counting the article in "A cat ...".
    """
    letters = [letter for letter in letters if letter]
    text = text.strip()
    if not text or not letters:
        return None
    group = "[" + "".join(re.escape(letter) for letter in letters) + "]"
    leading = re.match(rf"\(?({group})\)?(?:[.:)\]]|\s*$)", text)
    if leading:
        return leading.group(1)
    stated = re.search(rf"(?i:answer)\s*(?:(?i:is)|:)\s*:?\s*\(?({group})\)?(?![A-Za-z])", text)
    if stated:
        return stated.group(1)
    bracketed = set(re.findall(rf"\(({group})\)", text))
    if len(bracketed) == 1:
        return bracketed.pop()
    if options:
        said = _plain(text)
        named = [letter for letter, option in options.items() if option and _plain(option) == said]
        if len(named) == 1:
            return named[0]
    alone = {m.group(1) for m in re.finditer(rf"(?<![A-Za-z])({group})(?![A-Za-z'])", text)
             if not (m.group(1) == "A" and re.match(r"A [a-z]", text[m.start():]))}
    if len(alone) == 1:
        return alone.pop()
    return None


def choice_correct(prediction: str, target: ChoiceTarget) -> bool:
    letters = list(target.options) or list("ABCD")
    return extract_choice(prediction, letters, target.options) == target.answer


class MultipleChoiceAccuracy(EvalMetric):
    """Targets: :class:`ChoiceTarget`. ``compute() -> {"accuracy"}``, plus ``"circular_accuracy"``
    (fraction of groups whose every shift is right) when ``circular=True``."""

    def __init__(self, circular: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.circular = circular
        self.add_sum("correct")
        self.add_sum("total")
        if circular:
            self.add_rows("group_keys")
            self.add_rows("group_correct")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[ChoiceTarget]) -> list[float]:
        """1.0 / 0.0 per asked question (per circular shift under CircularEval)."""
        check_lengths(predictions, targets)
        return [float(p is not None and choice_correct(p, t)) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[ChoiceTarget]) -> None:
        right = [score == 1.0 for score in self.score_each(predictions, targets)]
        self.correct += sum(right)
        self.total += len(right)
        if self.circular:
            if any(t.group is None for t in targets):
                raise ValueError("circular evaluation needs ChoiceTarget.group on every target")
            self.group_keys.append(as_rows([stable_key(str(t.group)) for t in targets], self.device))
            self.group_correct.append(as_rows(right, self.device))

    def compute(self) -> dict[str, Tensor]:
        scores = {"accuracy": ratio(self.correct, self.total)}
        if self.circular:
            keys, right = cat_rows(self.group_keys), cat_rows(self.group_correct)
            groups, inverse = torch.unique(keys, return_inverse=True)
            wrong = torch.zeros(len(groups), dtype=torch.int64, device=keys.device)
            wrong.index_add_(0, inverse, 1 - right)
            scores["circular_accuracy"] = ratio((wrong == 0).sum(), torch.tensor(len(groups)))
        return scores
