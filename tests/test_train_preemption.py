"""SLURM-style preemption under submitit's LocalExecutor (the local twin of the SLURM executor the
Hydra launcher uses): the job receives the requeue signal (USR2) mid-run; the run finishes its
optimizer step, saves ``checkpoints/last.ckpt`` and hands over to submitit's handler, which
checkpoints the job and requeues it; the restarted job (``ckpt_path=auto``) resumes at the saved
step with the same mixture position and ends with the uninterrupted run's weights.

The signal comes from inside the first attempt (at micro-batch 5) instead of the executor's
time-out timer, so where it lands does not depend on how fast this machine is.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import submitit
import torch
from submitit.helpers import DelayedSubmission

from sphinx_x.safe_loading import load_checkpoint

# micro-batches of 2, global batch 4 (two micro-batches a step); step checkpoints every 4 steps, so
# the requeued run can only resume from what the signal saved (step 3)
RUN = ("data.micro_batch_size=2", "global_batch_size=4", "trainer.max_steps=6",
       "callbacks.checkpoint.every_n_train_steps=4", "ckpt_path=auto")
SIGNAL_AT = 5  # micro-batch of the first attempt that receives USR2 (in step 3)


class SignalAt(L.Callback):
    def __init__(self, batch: int):
        self.batch, self.seen = batch, 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seen += 1
        if self.seen == self.batch:
            os.kill(os.getpid(), signal.SIGUSR2)


class Record(L.Callback):
    """The step a run starts at and the micro-batches it trains."""

    def __init__(self) -> None:
        self.start_step, self.batches = -1, 0

    def on_train_start(self, trainer: L.Trainer, *args: Any) -> None:
        self.start_step = trainer.global_step

    def on_train_batch_end(self, *args: Any) -> None:
        self.batches += 1


class TrainJob:
    """A checkpointable submitit job (as hydra-submitit-launcher's is): ``checkpoint`` resubmits it."""

    def __init__(self, overrides: list[str], run_dir: str, attempt: int = 0):
        self.overrides, self.run_dir, self.attempt = overrides, run_dir, attempt

    def __call__(self) -> dict[str, Any]:
        import sphinx_x.train
        from tests.testkit.configs import compose_config

        torch.set_num_threads(1)
        record = Record()
        extra = [record] + ([SignalAt(SIGNAL_AT)] if self.attempt == 0 else [])
        build = sphinx_x.train.build_trainer

        def with_callbacks(*args: Any, **kwargs: Any) -> L.Trainer:
            trainer = build(*args, **kwargs)
            trainer.callbacks.extend(extra)
            return trainer

        sphinx_x.train.build_trainer = with_callbacks
        result = sphinx_x.train.train(compose_config(self.overrides, Path(self.run_dir)), self.run_dir)
        return {"attempt": self.attempt, "start_step": record.start_step, "batches": record.batches,
                "global_step": result["global_step"], "checkpoint": result["checkpoint"]}

    def checkpoint(self) -> DelayedSubmission:
        return DelayedSubmission(TrainJob(self.overrides, self.run_dir, self.attempt + 1))


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
