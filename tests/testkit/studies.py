"""Study files for the experiments tests: a small valid study, written under a temporary root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

QUICK_DEMO = ["experiment=demo", "demo_world=null", "trainer.val_check_interval=null",
              "callbacks.benchmark_validation=null", "trainer.enable_progress_bar=false", "data.num_workers=0"]


def study_fields(**changes: Any) -> dict[str, Any]:
    """A two-point resolution grid, two seeds, demo held-out VQA + REC; ``changes`` replace fields."""
    fields: dict[str, Any] = {
        "question": "448 or 672?",
        "grid": {"model/tiling": ["grid448", "grid672"]},
        "seeds": [0, 1],
        "metric": "demo_vqa/accuracy",
        "scales": {"demo": {"overrides": list(QUICK_DEMO), "steps": 2, "evals": ["demo_vqa", "demo_rec"],
                            "eval_limit": 2, "eval_batch_size": 2}},
    }
    fields.update(changes)
    return fields


def write_study(root: Path, name: str = "tiny", **changes: Any) -> Path:
    """``<root>/<name>/study.yaml`` from :func:`study_fields`; returns the study folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(study_fields(**changes), sort_keys=False), encoding="utf-8")
    return folder
