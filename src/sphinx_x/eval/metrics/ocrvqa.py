"""OCR-VQA accuracy as the SPHINX authors score it (``evaluate_exact_match_accuracy`` in
LLaMA2-Accessory's ``eval_mm/utils/metric.py``): periods removed from both sides, then stripped,
lower-cased and compared; right when equal to the answer (or any of several)."""

from __future__ import annotations

from collections.abc import Sequence

from sphinx_x.eval.metrics.exact_match import ExactMatch


def strict_match(prediction: str, target: str | Sequence[str]) -> bool:
    answers = [target] if isinstance(target, str) else list(target)
    said = prediction.replace(".", "").strip().lower()
    return any(said == answer.replace(".", "").strip().lower() for answer in answers)


class StrictMatch(ExactMatch):
    """Targets: the answer (or accepted answers). ``compute() -> {"accuracy"}``."""

    match = staticmethod(strict_match)
