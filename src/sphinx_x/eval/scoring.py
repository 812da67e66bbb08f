"""Scoring a benchmark's predictions with its metric: overall, per group, with missing answers.

``score_predictions`` is what both ``sphinx-x-score`` and the evaluation loop call, so offline and
in-loop numbers are computed the same way; ``per_question_scores`` gives each question's own score
under the same metric and options, to trace a total back to its questions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sphinx_x.eval.benchmarks import BenchmarkSpec, EvalSample, get_benchmark


class ScoringError(ValueError):
    """Predictions or annotations that cannot be scored (the message says which and why)."""


def read_predictions(path: str | Path) -> dict[str, str]:
    """``{"question_id", "prediction"}`` JSON lines -> {str(question_id): prediction}."""
    predictions: dict[str, str] = {}
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ScoringError(f"{where}: not JSON ({error.msg})") from error
            if not isinstance(row, dict) or "question_id" not in row or "prediction" not in row:
                raise ScoringError(f"{where}: expected {{\"question_id\": ..., \"prediction\": \"...\"}}")
            if not isinstance(row["prediction"], str):
                raise ScoringError(f"{where}: prediction must be a string, got {type(row['prediction']).__name__}")
            qid = str(row["question_id"])
            if qid in predictions:
                raise ScoringError(f"{where}: question_id {qid!r} predicted twice")
            predictions[qid] = row["prediction"]
    return predictions


def align(predictions: Mapping[Any, str], samples: Sequence[EvalSample]) -> tuple[list[str | None], list[str]]:
    """One prediction (None where missing) per sample, and the ids of the missing ones.

    Raises :class:`ScoringError` for predictions whose id is not in the benchmark.
    """
    by_id = {str(k): v for k, v in predictions.items()}
    known = {sample.question_id for sample in samples}
    unknown = [qid for qid in by_id if qid not in known]
    if unknown:
        shown = ", ".join(repr(q) for q in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ScoringError(f"{len(unknown)} predictions have question_ids that are not in the benchmark: {shown} "
                           f"(wrong benchmark, split or annotations file?)")
    aligned = [by_id.get(sample.question_id) for sample in samples]
    missing = [sample.question_id for sample, p in zip(samples, aligned, strict=True) if p is None]
    return aligned, missing


def _compute(spec: BenchmarkSpec, predictions: list[str | None], targets: list[Any],
             metric_options: Mapping[str, Any]) -> dict[str, float]:
    metric = spec.metric(**metric_options)
    metric.update(predictions, targets)
    return {name: float(value) for name, value in metric.compute().items()}


def _prepare(benchmark: str | BenchmarkSpec, predictions: Mapping[Any, str], samples: Sequence[EvalSample],
             ) -> tuple[BenchmarkSpec, list[str | None], list[str], list[Any]]:
    """The spec, aligned predictions, missing ids and targets; raises where nothing can be scored."""
    spec = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    if not samples:
        raise ScoringError(f"{spec.name}: no samples to score")
    unlabelled = sum(sample.target is None for sample in samples)
    if unlabelled:
        raise ScoringError(f"{spec.name}: {unlabelled} of {len(samples)} samples have no ground truth "
                           f"(a test split without public answers?); write the server file instead")
    aligned, missing = align(predictions, samples)
    return spec, aligned, missing, [sample.target for sample in samples]


def per_question_scores(benchmark: str | BenchmarkSpec, predictions: Mapping[Any, str],
                        samples: Sequence[EvalSample], **metric_options: Any) -> dict[str, float]:
    """``{question_id: score}`` in sample order: each question's score under the benchmark's metric
    (``metric.score_each``) with ``metric_options``; a missing prediction scores 0.0."""
    spec, aligned, _, targets = _prepare(benchmark, predictions, samples)
    each = spec.metric(**metric_options).score_each(aligned, targets)
    return {sample.question_id: float(score) for sample, score in zip(samples, each, strict=True)}


def score_predictions(benchmark: str | BenchmarkSpec, predictions: Mapping[Any, str],
                      samples: Sequence[EvalSample], **metric_options: Any) -> dict[str, float]:
    """Scores of ``predictions`` (question_id -> generated text) on ``samples``.

    Keys: the metric's scores; ``"<score>[<key>=<value>]"`` for each group of the benchmark's
    ``group_by`` meta keys; ``"<score>[mean over <key>]"`` where the benchmark averages groups;
    ``"n_samples"`` and ``"n_missing"``. Missing predictions are scored as wrong. ``metric_options``
    go to the metric (e.g. ``side``/``grid``/``anchor`` for REC, ``mode="official"`` for VQA
    accuracy, ``remove_digit_commas=True`` for ChartQA's relaxed accuracy).
    """
    spec, aligned, missing, targets = _prepare(benchmark, predictions, samples)
    scores = _compute(spec, aligned, targets, metric_options)
    for key in spec.group_by:
        groups: dict[str, list[int]] = {}
        for i, sample in enumerate(samples):
            groups.setdefault(str(sample.meta.get(key)), []).append(i)
        per_group = {value: _compute(spec, [aligned[i] for i in rows], [targets[i] for i in rows], metric_options)
                     for value, rows in sorted(groups.items())}
        for value, group_scores in per_group.items():
            scores.update({f"{name}[{key}={value}]": v for name, v in group_scores.items()})
        if spec.average_groups:
            for name in next(iter(per_group.values())):
                scores[f"{name}[mean over {key}]"] = sum(g[name] for g in per_group.values()) / len(per_group)
    scores["n_samples"] = float(len(samples))
    scores["n_missing"] = float(len(missing))
    return scores
