"""MathVista accuracy: the answer is extracted from the response, normalised, then compared exactly.

Extraction follows ``extract_answer.py`` of lupantech/MathVista: an empty response is ""; a
multiple-choice response equal to a choice is taken as is; an integer / float answer that parses
is taken; ``The answer is "x".`` gives x; otherwise the judge model extracts it with the official
worked examples (:data:`~sphinx_x.eval.metrics.judge_prompts.MATHVISTA_EXTRACTION_PROMPT`). Without a
judge (or when it fails) a local fallback reads it instead (not official, counted in
``n_fallback_extracted``): the option letter (:func:`~sphinx_x.eval.metrics.choice.extract_choice`),
the last number, the last ``[...]`` list, or the whole response.

Normalisation follows ``calculate_score.py``: for multiple choice a "(B)" or "B" becomes that option's
text, anything else the most similar option (Levenshtein); integers ``str(int(float(x)))``, floats
``str(round(float(x), precision))``, lists ``str(x)``. Right when equal to the ``answer`` string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sphinx_x.eval.judge import Judge, Verdict, chat_request, resolve_judge
from sphinx_x.eval.metrics.anls import levenshtein
from sphinx_x.eval.metrics.base import EvalMetric, as_rows, cat_rows, check_lengths, ratio
from sphinx_x.eval.metrics.choice import extract_choice
from sphinx_x.eval.metrics.judge_prompts import mathvista_extraction
from sphinx_x.eval.metrics.judged import JudgeOption

TASKS: tuple[str, ...] = ("figure question answering", "geometry problem solving", "math word problem",
                          "textbook question answering", "visual question answering")
SKILLS: tuple[str, ...] = ("algebraic reasoning", "arithmetic reasoning", "geometry reasoning", "logical reasoning",
                           "numeric commonsense", "scientific reasoning", "statistical reasoning")
METHODS: tuple[str, ...] = ("rule", "judge", "fallback")
QUICK = re.compile(r'The answer is "(.*)"\.')
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class MathVistaTarget:
    """A problem's answer and what its extraction needs (``query`` is the prompt the model saw)."""

    answer: str
    question_type: str  # multi_choice | free_form
    answer_type: str  # text | integer | float | list
    choices: tuple[str, ...] = ()
    precision: int | None = None
    query: str = ""
    task: str = ""
    skills: tuple[str, ...] = ()


def rule_extract(response: str, target: MathVistaTarget) -> str | None:
    """The official rules before the judge; None when they do not decide."""
    if response == "":
        return ""
    if target.question_type == "multi_choice" and response in target.choices:
        return response
    if target.answer_type == "integer":
        try:
            return str(int(response))
        except ValueError:
            pass
    if target.answer_type == "float":
        try:
            return str(float(response))
        except ValueError:
            pass
    quick = QUICK.search(response)
    return quick.group(1) if quick else None


def fallback_extract(response: str, target: MathVistaTarget) -> str:
    """What a judge would have pulled out, read by rules (used without a judge)."""
    if target.question_type == "multi_choice":
        letters = [chr(ord("A") + i) for i in range(len(target.choices))]
        options = dict(zip(letters, target.choices, strict=True))
        letter = extract_choice(response, letters, options)
        return letter if letter is not None else response.strip()
    if target.answer_type in ("integer", "float"):
        numbers = NUMBER.findall(response.replace(",", ""))
        return numbers[-1] if numbers else response.strip()
    if target.answer_type == "list":
        lists = re.findall(r"\[[^\[\]]*\]", response)
        return lists[-1] if lists else response.strip()
    return response.strip()


def normalise_extraction(extraction: str, target: MathVistaTarget) -> str | None:
    """``normalize_extracted_answer`` of the official ``calculate_score.py``."""
    if target.question_type == "multi_choice":
        extraction = extraction.strip()
        letter = re.findall(r"\(([a-zA-Z])\)", extraction)
        if letter:
            extraction = letter[0].upper()
        letters = [chr(ord("A") + i) for i in range(len(target.choices))]
        if extraction in letters:
            return target.choices[letters.index(extraction)]
        if not target.choices:
            return extraction
        distances = [levenshtein(extraction, choice) for choice in target.choices]
        return target.choices[distances.index(min(distances))]
    try:
        if target.answer_type == "integer":
            return str(int(float(extraction)))
        if target.answer_type == "float":
            return str(round(float(extraction), int(target.precision or 0)))
    except ValueError:
        return None
    return str(extraction)


class MathVistaAccuracy(EvalMetric):
    """Targets: :class:`MathVistaTarget`. ``compute()``: ``accuracy``, ``accuracy[task=...]``,
    ``accuracy[skill=...]`` (a problem counts for each of its skills), ``accuracy[question_type=...]``,
    how answers were extracted (``n_rule_extracted``, ``n_judge_extracted``, ``n_fallback_extracted``)
    and ``judge_failed``. ``use_judge=False`` never asks a judge."""

    def __init__(self, judge: JudgeOption = None, use_judge: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.judge: Judge | None = resolve_judge(judge, "mathvista", required=False) if use_judge else None
        for name in ("correct", "task", "skills", "method", "multi_choice"):
            self.add_rows(name)
        self.add_sum("judge_failures")

    def extract(self, predictions: Sequence[str | None], targets: Sequence[MathVistaTarget],
                ) -> list[tuple[str | None, str, bool]]:
        """Per question: (normalised extraction or None, method, judge failed)."""
        check_lengths(predictions, targets)
        judge = self.judge

        def one(pair: tuple[str | None, MathVistaTarget]) -> tuple[str | None, str, bool]:
            prediction, target = pair
            if prediction is None:
                return None, "rule", False
            extraction, method, failed = rule_extract(prediction, target), "rule", False
            if extraction is None and judge is not None:
                verdict: Verdict = judge.ask("mathvista_extract", lambda attempt: chat_request(
                    judge.model, [{"role": "user", "content": mathvista_extraction(target.query, prediction)}],
                    temperature=0.0, max_tokens=256), lambda content: content.strip() or None, label=target.query[:80])
                if verdict.ok:
                    extraction, method = str(verdict.value), "judge"
                failed = not verdict.ok
            if extraction is None:
                extraction, method = fallback_extract(prediction, target), "fallback"
            return normalise_extraction(extraction, target), method, failed

        pairs = list(zip(predictions, targets, strict=True))
        return judge.map(one, pairs) if judge is not None else [one(pair) for pair in pairs]

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[MathVistaTarget]) -> list[float]:
        return [float(extracted is not None and extracted == target.answer)
                for (extracted, _, _), target in zip(self.extract(predictions, targets), targets, strict=True)]

    def update(self, predictions: Sequence[str | None], targets: Sequence[MathVistaTarget]) -> None:
        read = self.extract(predictions, targets)
        for target in targets:
            if target.task and target.task not in TASKS:
                raise ValueError(f"unknown MathVista task {target.task!r}; known: {TASKS}")
            unknown = set(target.skills) - set(SKILLS)
            if unknown:
                raise ValueError(f"unknown MathVista skill(s) {sorted(unknown)}; known: {SKILLS}")
        right = [extracted is not None and extracted == t.answer for (extracted, _, _), t in zip(read, targets,
                                                                                                strict=True)]
        self.correct.append(as_rows(right, self.device))
        self.task.append(as_rows([TASKS.index(t.task) if t.task else -1 for t in targets], self.device))
        self.skills.append(as_rows([sum(1 << SKILLS.index(s) for s in set(t.skills)) for t in targets], self.device))
        self.method.append(as_rows([METHODS.index(method) for _, method, _ in read], self.device))
        self.multi_choice.append(as_rows([t.question_type == "multi_choice" for t in targets], self.device))
        self.judge_failures += sum(failed for _, _, failed in read)

    def compute(self) -> dict[str, Tensor]:
        right, task, skills = cat_rows(self.correct), cat_rows(self.task), cat_rows(self.skills)
        method, multi = cat_rows(self.method), cat_rows(self.multi_choice)
        out = {"accuracy": ratio(right.sum(), torch.tensor(len(right)))}
        for index, name in enumerate(TASKS):
            rows = task == index
            if bool(rows.any()):
                out[f"accuracy[task={name}]"] = ratio(right[rows].sum(), rows.sum())
        for bit, name in enumerate(SKILLS):
            rows = (skills >> bit) & 1 == 1
            if bool(rows.any()):
                out[f"accuracy[skill={name}]"] = ratio(right[rows].sum(), rows.sum())
        for value, name in ((1, "multi_choice"), (0, "free_form")):
            rows = multi == value
            if bool(rows.any()):
                out[f"accuracy[question_type={name}]"] = ratio(right[rows].sum(), rows.sum())
        for index, name in enumerate(METHODS):
            out[f"n_{name}_extracted"] = (method == index).sum().double()
        out["judge_failed"] = self.judge_failures.double()
        return out
