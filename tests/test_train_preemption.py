"""SLURM-style preemption under submitit's LocalExecutor (the local twin of the SLURM executor the
Hydra launcher uses): the job receives the requeue signal (USR2) mid-run; the run finishes its
optimizer step, saves ``checkpoints/last.ckpt`` and hands over to submitit's handler, which
checkpoints the job and requeues it; the restarted job (``ckpt_path=auto``) resumes at the saved
step with the same mixture position and ends with the uninterrupted run's weights.

The signal comes from inside the first attempt (at micro-batch 5) instead of the executor's
time-out timer, so where it lands does not depend on how fast this machine is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import submitit
import torch

from sphinx_x.safe_loading import load_checkpoint
from tests.testkit.preemption import RUN, TrainJob


def test_signal_saves_requeues_and_resumes_exactly(demo_config, demo_dir, tmp_path, one_thread):
    from sphinx_x.train import train

    straight = train(demo_config(*RUN, output_dir=tmp_path / "straight"), str(tmp_path / "straight"))
    run = tmp_path / "job"
    overrides = ["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", "data.num_workers=0",
                 "data.num_samples=64", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
                 "trainer.val_check_interval=null", "callbacks.benchmark_validation=null", *RUN]
    executor = submitit.LocalExecutor(folder=tmp_path / "submitit")
    executor.update_parameters(timeout_min=10, max_num_timeout=3)
    job = executor.submit(TrainJob(overrides, str(run)))
    outcome = job.result()
    log = Path(job.paths.stdout).read_text() + Path(job.paths.stderr).read_text()
    assert "signal SIGUSR2: saved" in log and "Requeued job" in log, log[-3000:]
    # the requeued attempt resumed at the step the signal saved (3) and trained only steps 4..6
    assert outcome["attempt"] == 1
    assert outcome["start_step"] == 3 and outcome["batches"] == (6 - 3) * 2
    assert outcome["global_step"] == 6
    expected, got = load_checkpoint(Path(straight["checkpoint"])), load_checkpoint(Path(outcome["checkpoint"]))
    assert set(got["state_dict"]) == set(expected["state_dict"])
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    assert got["SphinxDataModule"]["sampler"] == expected["SphinxDataModule"]["sampler"]
    assert got["per_source_totals"] == expected["per_source_totals"]


def test_requeue_signal_is_validated(demo_config):
    from sphinx_x.runtime.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="requeue_signal: 'USR9' is not a signal name"):
        validate_config(demo_config("requeue_signal=USR9"))
    validate_config(demo_config("requeue_signal=null"))
