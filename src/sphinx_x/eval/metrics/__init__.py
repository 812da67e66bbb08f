"""Scorers that reproduce the official benchmark metrics, as ``torchmetrics.Metric`` subclasses.

Every scorer: ``update(predictions: list[str | None], targets)`` and ``compute() -> dict[str,
Tensor]`` of named float64 scalars, and ``score_each(predictions, targets) -> list[float]``, each
question's own score (see :mod:`sphinx_x.eval.metrics.base`).
"""

from sphinx_x.eval.metrics.anls import ANLS, anls_score
from sphinx_x.eval.metrics.base import EvalMetric
from sphinx_x.eval.metrics.choice import ChoiceTarget, MultipleChoiceAccuracy, extract_choice
from sphinx_x.eval.metrics.exact_match import ExactMatch, normalise_short_answer
from sphinx_x.eval.metrics.mme import COGNITION, PERCEPTION, MMEScore, MMETarget, parse_mme_answer
from sphinx_x.eval.metrics.pope import PopeMetrics, parse_yes_no
from sphinx_x.eval.metrics.rec import RecAccuracy, RecTarget
from sphinx_x.eval.metrics.relaxed import RelaxedAccuracy, relaxed_correct
from sphinx_x.eval.metrics.vqa import VQA_MODES, VQAAccuracy, vqa_score
from sphinx_x.eval.metrics.vqa_normalisation import normalise_vqa_answer

__all__ = [
    "ANLS", "COGNITION", "PERCEPTION", "ChoiceTarget", "EvalMetric", "ExactMatch", "MMEScore", "MMETarget",
    "MultipleChoiceAccuracy", "PopeMetrics", "RecAccuracy", "RecTarget", "RelaxedAccuracy", "VQAAccuracy", "VQA_MODES",
    "anls_score", "extract_choice", "normalise_short_answer", "normalise_vqa_answer", "parse_mme_answer",
    "parse_yes_no", "relaxed_correct", "vqa_score",
]
