"""The generation loop over a benchmark: prompts -> batched answers -> predictions and scores.

``evaluate_benchmark`` is what ``sphinx-x-evaluate`` and the in-training
:class:`~sphinx_x.eval.callback.BenchmarkValidation` call, and it scores through
:func:`~sphinx_x.eval.scoring.score_predictions`, so their numbers match ``sphinx-x-score``'s.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from sphinx_x.data.records import RecordError
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.eval.benchmarks import BenchmarkSpec, EvalSample, get_benchmark
from sphinx_x.eval.metrics.rec import RecTarget
from sphinx_x.eval.scoring import ScoringError, score_predictions
from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference

log = logging.getLogger(__name__)
GENERATION_FIELDS = ("max_new_tokens", "do_sample", "temperature", "top_p", "stop_strings")


def generation_config(spec: BenchmarkSpec, overrides: Mapping[str, Any] | None = None) -> GenerationConfig:
    """The benchmark's generation length, with ``overrides`` (None values keep the default)."""
    fields = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(fields) - set(GENERATION_FIELDS)
    if unknown:
        raise ValueError(f"generation: unknown option(s) {sorted(unknown)}; allowed: {list(GENERATION_FIELDS)}")
    fields.setdefault("max_new_tokens", spec.max_new_tokens)
    if "stop_strings" in fields:
        fields["stop_strings"] = list(fields["stop_strings"])
    return GenerationConfig(**fields)


def metric_options(spec: BenchmarkSpec, engine: SphinxInference) -> dict[str, Any]:
    """REC boxes are read back through the frame the model saw: its side, grid and anchor."""
    if spec.task != "rec":
        return {}
    layout = engine.layout
    return {"side": layout.grid * layout.tile_pixels, "grid": layout.grid, "anchor": layout.anchor}


def with_model_frames(spec: BenchmarkSpec, samples: Sequence[EvalSample], layout: VisualLayout) -> list[EvalSample]:
    """REC targets carry the frame the model saw their image through (``layout.frame``): under the dynamic
    partition each image has its own grid, so the metric's one square frame would misplace the boxes."""
    if spec.task != "rec":
        return list(samples)
    return [dataclasses.replace(s, target=dataclasses.replace(s.target, frame=layout.frame(s.target.width,
                                                                                           s.target.height)))
            if isinstance(s.target, RecTarget) and s.target.frame is None else s for s in samples]


def evaluate_benchmark(engine: SphinxInference, benchmark: str | BenchmarkSpec, samples: Sequence[EvalSample],
                       batch_size: int = 8, generation: Mapping[str, Any] | None = None,
                       describe_first: bool = False, limit: int | None = None,
                       describe_max_new_tokens: int = 256, rejects: list[dict[str, Any]] | None = None,
                       scoring: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Answer ``samples`` (the first ``limit``) and score them.

    Returns prediction rows ``{"question_id", "prediction", "prompt", "target", ...}`` and the
    scores. A sample whose image cannot be read or whose prompt is too long is not predicted (it
    counts in ``n_missing`` and ``n_failed``, is scored as wrong, and its reason is appended to
    ``rejects``); a split without ground truth gets only the counts. ``scoring`` holds the metric's
    options (e.g. ``{"mode": "official"}`` for VQA accuracy).
    """
    spec = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    samples = list(samples[:limit] if limit else samples)
    config = generation_config(spec, generation)
    describe = dataclasses.replace(config, max_new_tokens=describe_max_new_tokens) if describe_first else None
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        rows += _answer_batch(engine, chunk, config, describe, failed)
        log.info("%s: %d / %d answered", spec.name, min(start + batch_size, len(samples)), len(samples))
    if failed and not rows:
        raise RuntimeError(f"{spec.name}: no sample could be answered; first error: {failed[0]['reason']}")
    if failed:
        log.warning("%s: %d of %d samples could not be answered, e.g. %s", spec.name, len(failed), len(samples),
                    failed[0]["reason"])
    if rejects is not None:
        rejects += failed
    scores = score_rows(spec, rows, with_model_frames(spec, samples, engine.layout), **metric_options(spec, engine),
                        **(scoring or {}))
    scores["n_failed"] = float(len(failed))
    return rows, scores


def score_rows(spec: BenchmarkSpec, rows: Sequence[Mapping[str, Any]], samples: Sequence[EvalSample],
               **options: Any) -> dict[str, float]:
    """Scores of prediction rows; only the counts where the split has no ground truth."""
    predictions = {row["question_id"]: row["prediction"] for row in rows}
    if samples and all(sample.target is None for sample in samples):
        return {"n_samples": float(len(samples)), "n_missing": float(len(samples) - len(predictions))}
    try:
        return score_predictions(spec, predictions, samples, **options)
    except ScoringError as error:
        log.warning("%s: not scored: %s", spec.name, error)
        return {"n_samples": float(len(samples)), "n_missing": float(len(samples) - len(predictions))}


def _answer_batch(engine: SphinxInference, chunk: Sequence[EvalSample], config: GenerationConfig,
                  describe: GenerationConfig | None, failed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer a batch; if any sample breaks it, answer one at a time so only that one is lost."""
    try:
        return _answer(engine, chunk, config, describe)
    except (RecordError, OSError, ValueError) as error:
        if len(chunk) == 1:
            failed.append({"question_id": chunk[0].question_id, "reason": f"{type(error).__name__}: {error}"})
            return []
    return [row for sample in chunk for row in _answer_batch(engine, [sample], config, describe, failed)]


def _answer(engine: SphinxInference, chunk: Sequence[EvalSample], config: GenerationConfig,
            describe: GenerationConfig | None) -> list[dict[str, Any]]:
    conversations = [Conversation([{"role": "user", "content": s.prompt}], [_open(p) for p in s.images])
                     for s in chunk]
    if describe is not None:
        conversations = engine.describe_first(conversations, describe)
    answers = engine.generate(conversations, config)
    rows = []
    for sample, conversation, answer in zip(chunk, conversations, answers, strict=True):
        row = {"question_id": sample.question_id, "prediction": answer, "prompt": sample.prompt,
               "target": _jsonable(sample.target)}
        if describe is not None:
            row["description"] = conversation.messages[1]["content"]
        rows.append(row)
    return rows


def _open(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if getattr(value, f.name) is not None}
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def write_outputs(out_dir: str | Path, spec: BenchmarkSpec, rows: Sequence[Mapping[str, Any]],
                  scores: Mapping[str, float], samples: Sequence[EvalSample], info: Mapping[str, Any] | None = None,
                  rejects: Sequence[Mapping[str, Any]] = ()) -> dict[str, Path]:
    """``predictions/<name>.jsonl``, ``scores/<name>.json`` and, where the benchmark has one, the
    evaluation server's file ``server/<name>.json``; failed samples go to ``predictions/<name>.rejects.jsonl``."""
    out = Path(out_dir)
    paths = {"predictions": out / "predictions" / f"{spec.name}.jsonl", "scores": out / "scores" / f"{spec.name}.json"}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    paths["predictions"].write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    answered = {row["question_id"] for row in rows}
    missing = [s.question_id for s in samples if s.question_id not in answered]
    report = {"benchmark": spec.name, **(info or {}), "scores": dict(scores), "missing_question_ids": missing}
    paths["scores"].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if rejects:
        paths["rejects"] = out / "predictions" / f"{spec.name}.rejects.jsonl"
        paths["rejects"].write_text("".join(json.dumps(dict(r)) + "\n" for r in rejects), encoding="utf-8")
    if spec.write_results is not None:
        paths["server"] = out / "server" / f"{spec.name}.json"
        spec.write_results(paths["server"], {row["question_id"]: row["prediction"] for row in rows}, samples)
    return paths
