"""``score_predictions`` and ``per_question_scores`` as the evaluation loop and the scorer call them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_x.eval.benchmarks import BENCHMARKS, EvalSample
from sphinx_x.eval.scoring import ScoringError, per_question_scores, score_predictions
from tests.testkit.benchmarks import write_demo_benchmark


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_demo_benchmark(tmp_path / "demo")


def test_score_predictions_groups_and_averages() -> None:
    samples = [EvalSample(f"{c}/{i}", [], "", label, {"category": c})
               for c in ("random", "adversarial") for i, label in enumerate(("yes", "no"))]
    predictions = {"random/0": "Yes", "random/1": "No", "adversarial/0": "Yes", "adversarial/1": "Yes"}
    scores = score_predictions("pope", predictions, samples)
    assert scores["accuracy"] == 0.75
    assert scores["accuracy[category=random]"] == 1.0
    assert scores["accuracy[category=adversarial]"] == 0.5
    assert scores["accuracy[mean over category]"] == 0.75
    assert scores["f1[mean over category]"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert (scores["n_samples"], scores["n_missing"]) == (4.0, 0.0)


def test_score_predictions_accepts_integer_ids_and_spec(demo: Path) -> None:
    spec = BENCHMARKS["demo_vqa"]
    samples = spec.load(demo)
    scores = score_predictions(spec, {0: "3", 1: "2", 2: "red", 3: "blue"}, samples)
    assert scores["accuracy"] == 1.0
    with pytest.raises(ScoringError, match="not in the benchmark: '7'"):
        score_predictions(spec, {7: "x"}, samples)


def test_per_question_scores_match_the_totals() -> None:
    samples = [EvalSample(f"q{i}", [], "", label, {}) for i, label in enumerate(("yes", "no", "yes"))]
    predictions = {"q0": "Yes", "q1": "Yes"}   # q2 missing
    assert per_question_scores("pope", predictions, samples) == {"q0": 1.0, "q1": 0.0, "q2": 0.0}
    assert score_predictions("pope", predictions, samples)["accuracy"] == pytest.approx(1 / 3)
    docs = [EvalSample("d0", [], "", ["abcd"], {})]
    assert per_question_scores("docvqa", {"d0": "abxy"}, docs) == {"d0": 0.5}
    with pytest.raises(ScoringError, match="no ground truth"):
        per_question_scores("pope", {}, [EvalSample("q", [], "", None, {})])
