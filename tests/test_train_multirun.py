"""The resolution x encoder ablation runs as one Hydra multirun (slow: six short trainings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.testkit.paths import REPO


@pytest.mark.slow
def test_tiling_by_vision_multirun_runs_six_jobs(tmp_path, demo_dir):
    cmd = [sys.executable, "-m", "sphinx_x.train", "-m", "experiment=demo", "model/tiling=grid448,grid672",
           "model/vision=convnext,dinov2,mov", "trainer.max_steps=2", f"paths.demo_dir={demo_dir}", "demo_world=null",
           "data.num_workers=0", "trainer.enable_progress_bar=false", f"hydra.sweep.dir={tmp_path}"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [str(i) for i in range(6)]
    assert all((tmp_path / str(i) / "checkpoints" / "last.ckpt").exists() for i in range(6))


@pytest.mark.slow
def test_each_job_of_a_wandb_multirun_logs_its_own_run(tmp_path, demo_dir):
    cmd = [sys.executable, "-m", "sphinx_x.train", "-m", "experiment=demo", "logger=wandb", "seed=0,1",
           "trainer.max_steps=1", f"paths.demo_dir={demo_dir}", "demo_world=null", "data.num_workers=0",
           "trainer.enable_progress_bar=false", f"hydra.sweep.dir={tmp_path}"]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_API_KEY": "", "WANDB_SILENT": "true"}
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [sorted((tmp_path / job / "wandb").glob("offline-run-*")) for job in ("0", "1")]
    assert [len(r) for r in runs] == [1, 1]  # the second job opened its own run, not the first job's
