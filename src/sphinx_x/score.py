"""``sphinx-x-score BENCHMARK PREDICTIONS.jsonl [ANNOTATIONS]``: score saved predictions offline.

Predictions are JSON lines ``{"question_id": ..., "prediction": "generated text"}``. Annotations
are read by the same reader and scored by the same metric as in the evaluation loop. ANNOTATIONS
defaults to ``$SPHINX_X_BENCHMARKS/<benchmark>`` (``data/benchmarks/<benchmark>``). ``--out`` also
writes ``per_question``, ``{question_id: score}``, to trace a total back to its questions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sphinx_x.data.geometry import ANCHORS
from sphinx_x.eval.benchmarks import BENCHMARKS, BenchmarkSpec, get_benchmark
from sphinx_x.eval.metrics import VQA_MODES, RelaxedAccuracy, VQAAccuracy
from sphinx_x.eval.scoring import (
    ScoringError,
    align,
    per_question_scores,
    read_predictions,
    score_predictions,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sphinx-x-score", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("benchmark", help="one of: " + ", ".join(sorted(BENCHMARKS)))
    parser.add_argument("predictions", type=Path, help="JSON lines {\"question_id\", \"prediction\"}")
    parser.add_argument("annotations", type=Path, nargs="?",
                        help="benchmark folder or file; None: $SPHINX_X_BENCHMARKS/<benchmark>")
    parser.add_argument("--split", help="benchmark split; None: the benchmark's first")
    parser.add_argument("--image-root", type=Path, help="image folder, if not where the official layout puts it")
    parser.add_argument("--out", type=Path,
                        help="write the scores, the missing ids and per_question {question_id: score} as JSON here")
    parser.add_argument("--server-out", type=Path,
                        help="write the evaluation-server results file (VQAv2, OK-VQA, VizWiz, DocVQA, InfoVQA)")
    frame = parser.add_argument_group("REC: the model's image frame (boxes are mapped back through it)")
    frame.add_argument("--side", type=int, default=448, help="padded square side")
    frame.add_argument("--grid", type=int, default=2, help="tiles per side")
    frame.add_argument("--anchor", choices=ANCHORS, default="top_left", help="padding anchor")
    rules = parser.add_argument_group("scoring rules")
    rules.add_argument("--vqa-mode", choices=VQA_MODES,
                       help="VQA accuracy: 'official' reproduces the official VQA evaluation script exactly; "
                            "None: 'default' (both sides always normalised)")
    rules.add_argument("--remove-digit-commas", action="store_true",
                       help="ChartQA relaxed accuracy: read \"1,000\" as 1000 (off: the official rule)")
    return parser


def _metric_options(spec: BenchmarkSpec, args: argparse.Namespace) -> dict[str, Any]:
    """The metric's options from the command line; a rule flag for another metric is an error."""
    options: dict[str, Any] = {}
    if spec.task == "rec":
        options.update(side=args.side, grid=args.grid, anchor=args.anchor)
    metric = spec.metric()
    if args.vqa_mode is not None:
        if not isinstance(metric, VQAAccuracy):
            raise ScoringError(f"--vqa-mode applies to VQA-accuracy benchmarks, not {spec.name}")
        options["mode"] = args.vqa_mode
    if args.remove_digit_commas:
        if not isinstance(metric, RelaxedAccuracy):
            raise ScoringError(f"--remove-digit-commas applies to relaxed accuracy (chartqa), not {spec.name}")
        options["remove_digit_commas"] = True
    return options


def _print_table(title: str, scores: dict[str, float]) -> None:
    width = max(len(name) for name in scores)
    print(title)
    for name, value in scores.items():
        shown = f"{int(value)}" if name.startswith("n_") else f"{value:.4f}"
        print(f"  {name:<{width}}  {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    """Score, print the table; 2 on unreadable input."""
    args = _parser().parse_args(argv)
    try:
        spec = get_benchmark(args.benchmark)
        options = _metric_options(spec, args)
        annotations = args.annotations or Path(os.environ.get("SPHINX_X_BENCHMARKS", "data/benchmarks")) / spec.name
        predictions = read_predictions(args.predictions)
        samples = spec.load(annotations, split=args.split, image_root=args.image_root)
        _, missing = align(predictions, samples)
        if args.server_out:
            if spec.write_results is None:
                raise ScoringError(f"{spec.name} has no evaluation-server format")
            spec.write_results(args.server_out, predictions, samples)
            print(f"wrote {args.server_out} ({len(samples)} answers)")
            if all(sample.target is None for sample in samples):
                return 0
        scores = score_predictions(spec, predictions, samples, **options)
        per_question = per_question_scores(spec, predictions, samples, **options) if args.out else {}
    except (ScoringError, ValueError, FileNotFoundError) as error:
        print(f"sphinx-x-score: error: {error}", file=sys.stderr)
        return 2
    split = args.split or (spec.splits[0] if spec.splits else None)
    title = f"{spec.name}" + (f" ({split})" if split else "") + f": {args.predictions}"
    _print_table(title, scores)
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        print(f"WARNING: {len(missing)} of {len(samples)} questions have no prediction and were scored as wrong: "
              f"{shown}", file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {"benchmark": spec.name, "split": split, "predictions": str(args.predictions),
                  "annotations": str(annotations), "metric_options": options, "scores": scores,
                  "missing_question_ids": missing, "per_question": per_question}
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
