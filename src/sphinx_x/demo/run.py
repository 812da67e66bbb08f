"""``make demo``: train on the demo world, answer its held-out questions, compare with the baseline.

``sphinx-x-demo [key=value ...]`` (Hydra overrides of sphinx_x/conf/demo.yaml, e.g. ``trainer.max_steps=50``).
The last printed line is the path of the JSON results file.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sphinx_x.eval.benchmarks.registry import get_benchmark
from sphinx_x.eval.loop import evaluate_benchmark
from sphinx_x.eval.scoring import score_predictions
from sphinx_x.inference import SphinxInference
from sphinx_x.train import train

log = logging.getLogger(__name__)


def question_type_of(question: str) -> str | None:
    """The demo world's question type from its wording (None for non-VQA turns)."""
    for marker, kind in (("What colour", "colour"), ("What shape", "shape"), ("How many", "count"),
                         ("left or the right", "position")):
        if marker in question:
            return kind
    return None


def majority_answers(demo_dir: Path) -> dict[str, str]:
    """The most common training answer per question type (the baseline's answers)."""
    answers: dict[str, Counter[str]] = {}
    for item in json.loads((demo_dir / "llava_train.json").read_text()):
        turns = item["conversations"]
        for question, answer in zip(turns[::2], turns[1::2], strict=False):
            kind = question_type_of(question["value"])
            if kind:
                answers.setdefault(kind, Counter())[answer["value"]] += 1
    return {kind: counts.most_common(1)[0][0] for kind, counts in answers.items()}


def evaluate_heldout(engine: SphinxInference, demo_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Held-out VQA through the benchmark reader, generation loop and scorer used for real benchmarks."""
    spec = get_benchmark("demo_vqa")
    samples = spec.load(demo_dir)[: cfg.max_questions or None]
    rows, scores = evaluate_benchmark(engine, spec, samples, batch_size=cfg.batch_size,
                                      generation={"max_new_tokens": cfg.max_new_tokens})
    majority = majority_answers(demo_dir)
    baseline = score_predictions(spec, {s.question_id: majority.get(s.meta["question_type"], "") for s in samples},
                                 samples)
    per_type = {key.split("=", 1)[1].rstrip("]"): value for key, value in scores.items()
                if key.startswith("accuracy[question_type=")}
    return {"vqa_accuracy": scores["accuracy"], "majority_baseline": baseline["accuracy"],
            "questions": len(samples), "per_type": per_type, "scores": scores,
            "examples": [{"question_id": r["question_id"], "prediction": r["prediction"]} for r in rows[:5]]}


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name="demo")
def main(cfg: DictConfig) -> None:
    output_dir = HydraConfig.get().runtime.output_dir
    result = train(cfg, output_dir)
    engine = SphinxInference.from_run(output_dir)
    scores = evaluate_heldout(engine, Path(cfg.paths.demo_dir), cfg.demo_eval)
    scores.update(train_steps=result["global_step"], checkpoint=result["checkpoint"],
                  final_train_loss=result["metrics"].get("train/loss"))
    print("\nDemo world, held-out VQA (exact match)")
    print(f"  {'model':<22}{scores['vqa_accuracy']:>8.3f}")
    print(f"  {'majority baseline':<22}{scores['majority_baseline']:>8.3f}")
    for kind, acc in scores["per_type"].items():
        print(f"  {'  ' + kind:<22}{acc:>8.3f}")
    path = Path(output_dir) / "demo_results.json"
    path.write_text(json.dumps(scores, indent=2))
    print(path)


if __name__ == "__main__":
    main()
