"""MMMU accuracy with the official answer parsing (``eval_utils.py`` of MMMU-Benchmark/MMMU).

Multiple choice (``parse_multi_choice_response``): strip ``,.!?;:'`` from the ends and pad with
spaces; candidates are the letters written "(A)"; else letters standing alone " A "; else, for a
response of more than five words, the options whose text it contains. Several candidates: the one
written last. None: a random letter (the official ``random.choice``; here seeded by the question id,
so a run is reproducible). Right when the letter is the answer.

Open questions (``parse_open_response``): the key sub-responses (the text after the last "could be",
"so", "is", "thus", "therefore", "final", "answer", "result", and "=" in the last sentence), the
numbers in them, each normalised (numbers without commas rounded to 2 places, text lower-cased, one
character padded with a space); right when a normalised answer is among the numbers or inside one of
the texts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio, stable_key

INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")


@dataclass(frozen=True)
class MMMUTarget:
    """``answer``: the letter (multiple choice) or the accepted answers (open); ``options`` letter -> text."""

    question_type: str  # multiple-choice | open
    answer: str | tuple[str, ...]
    options: Mapping[str, str] = field(default_factory=dict)
    key: str = ""  # seeds the random letter for an unreadable multiple-choice answer


def parse_multi_choice(response: str, options: Mapping[str, str], seed: str = "") -> str:
    """The letter the response picks (the official rules; a seeded random letter when none)."""
    letters = list(options)
    for mark in (",", ".", "!", "?", ";", ":", "'"):
        response = response.strip(mark)
    response = f" {response} "
    candidates = [c for c in letters if f"({c})" in response]
    bracketed, by_text = bool(candidates), False
    if not candidates:
        candidates = [c for c in letters if f" {c} " in response]
    if not candidates and len(response.split()) > 5:
        candidates = [c for c, text in options.items() if text.lower() in response.lower()]
        by_text = bool(candidates)
    if not candidates:
        return random.Random(stable_key(seed)).choice(letters)
    if len(candidates) == 1:
        return candidates[0]
    if by_text:
        starts = [response.lower().rfind(options[c].lower()) for c in candidates]
    elif bracketed:
        starts = [response.rfind(f"({c})") for c in candidates]
    else:
        starts = [response.rfind(f" {c} ") for c in candidates]
    return candidates[starts.index(max(starts))]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def normalise_open(text: str) -> list[str | float]:
    """``normalize_str``: a number -> [rounded float]; text -> [lower] (one character: [" x", "x "])."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def extract_numbers(text: str) -> list[str]:
    """Numbers with thousands commas, in scientific notation, and plain ones (the official three patterns)."""
    commas = re.findall(r"-?\b\d{1,3}(?:,\d{3})+\b", text)
    scientific = re.findall(r"-?\d+(?:\.\d+)?[eE][+-]?\d+", text)
    simple = re.findall(r"-?(?:\d+\.\d+|\.\d+|\d+)(?![eE][+-]?\d+)(?![,\d])", text)
    return commas + scientific + simple


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    sentences = re.split(r"\.\s(?=[A-Z])|\n", response)  # after lower(): splits on newlines only, as the official
    keys = []
    for index, sentence in enumerate(sentences):
        indicators = [*INDICATORS, "="] if index == len(sentences) - 1 else list(INDICATORS)
        shortest = None
        for indicator in indicators:
            if indicator in sentence:
                tail = sentence.split(indicator)[-1].strip()
                if shortest is None or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in (":", ",", ".", "!", "?", ";", "'"):
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[str | float]:
    """The normalised candidates an open response offers."""
    keys = _key_responses(response)
    candidates: list[str] = list(keys)
    for key in keys:
        candidates.extend(extract_numbers(key))
    normalised: list[str | float] = []
    for candidate in candidates:
        normalised.extend(normalise_open(candidate))
    return list(dict.fromkeys(normalised))


def mmmu_correct(response: str, target: MMMUTarget) -> bool:
    if target.question_type == "multiple-choice":
        answers = [target.answer] if isinstance(target.answer, str) else list(target.answer)
        return parse_multi_choice(response, target.options, target.key) in answers
    golds: list[str | float] = []
    for answer in [target.answer] if isinstance(target.answer, str) else target.answer:
        golds.extend(normalise_open(str(answer)))
    for candidate in parse_open(response):
        if isinstance(candidate, str):
            if any(isinstance(gold, str) and gold in candidate for gold in golds):
                return True
        elif candidate in golds:
            return True
    return False


class MMMUAccuracy(EvalMetric):
    """Targets: :class:`MMMUTarget`. ``compute() -> {"accuracy"}`` (micro-averaged, as the official overall)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_sum("correct")
        self.add_sum("total")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[MMMUTarget]) -> list[float]:
        check_lengths(predictions, targets)
        return [float(p is not None and mmmu_correct(p, t)) for p, t in zip(predictions, targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[MMMUTarget]) -> None:
        self.correct += int(sum(self.score_each(predictions, targets)))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": ratio(self.correct, self.total)}
