"""``make demo`` end to end at a tiny size: the demo entry config (token-budget packed micro-batches, one
thread) trains, answers the held-out questions and writes the results file its last line names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sphinx_x.safe_loading import load_checkpoint


def test_demo_command_trains_packed_and_scores_heldout_vqa(demo_dir: Path, tmp_path: Path):
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx_x.demo.run", f"paths.demo_dir={demo_dir}", "demo_world=null",
         "trainer.max_steps=4", "trainer.val_check_interval=null", "callbacks.benchmark_validation=null",
         "data.num_workers=0", "trainer.enable_progress_bar=false", "demo_eval.max_questions=8",
         f"hydra.run.dir={run}"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last == str(run / "demo_results.json")
    results = json.loads(Path(last).read_text())
    assert results["train_steps"] == 4 and results["questions"] == 8
    assert 0.0 <= results["vqa_accuracy"] <= 1.0 and results["majority_baseline"] > 0
    config = (run / "config.yaml").read_text()
    assert "packing: true" in config and "max_tokens_per_batch: 3072" in config and "num_threads: 1" in config
    # one packed micro-batch a step: more samples than a padded micro-batch of 8, at most 16 short ones a row
    totals = load_checkpoint(run / "checkpoints" / "last.ckpt")["per_source_totals"]["samples"]
    assert 4 * 8 < sum(totals.values()) < 4 * 8 * 16
