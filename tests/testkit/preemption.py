"""A checkpointable submitit training job for the preemption test (``tests/test_train_preemption.py``).

It lives here, not in the test module, because submitit pickles the job by its module path.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from submitit.helpers import DelayedSubmission

# micro-batches of 2, global batch 4 (two micro-batches a step); step checkpoints every 4 steps, so
# the requeued run can only resume from what the signal saved (step 3)
RUN = ("data.micro_batch_size=2", "global_batch_size=4", "trainer.max_steps=6",
       "callbacks.checkpoint.every_n_train_steps=4", "ckpt_path=auto")
SIGNAL_AT = 5  # micro-batch of the first attempt that receives USR2 (in step 3)


class SignalAt(L.Callback):
    """Sends this process the requeue signal (USR2) after micro-batch ``batch``."""

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
        result = sphinx_x.train.train(compose_config(self.overrides, Path(self.run_dir)), self.run_dir, extra)
        return {"attempt": self.attempt, "start_step": record.start_step, "batches": record.batches,
                "global_step": result["global_step"], "checkpoint": result["checkpoint"]}

    def checkpoint(self) -> DelayedSubmission:
        return DelayedSubmission(TrainJob(self.overrides, self.run_dir, self.attempt + 1))
