"""FSDP trained on CPU: two processes over gloo, frozen MoV experts, a trainable LLM + projector.

Two FSDP ranks (micro-batch 1, accumulation 2) and one process (micro-batch 1, accumulation 4) train on
the same global batches (each rank takes every other draw of the same sequence) and end with the same
weights and losses (float32; tolerance 1e-5: only the order of the gradient sums differs). Checkpoints,
full and sharded, hold exactly the trainable weights; a run resumed from a sharded checkpoint ends with
the uninterrupted run's weights; ``sphinx-x-export`` exports both kinds.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch

from sphinx_x.export import main as export_main
from sphinx_x.inference import SphinxInference
from sphinx_x.model.build import build_sphinx
from sphinx_x.safe_loading import load_checkpoint
from sphinx_x.train import train

REPO = Path(__file__).resolve().parents[2]
COMMON = ("data.num_workers=0", "data.num_samples=64", "data.micro_batch_size=1", "global_batch_size=4",
          "trainer.enable_progress_bar=false", "trainer.val_check_interval=null", "trainer.log_every_n_steps=1",
          "callbacks.benchmark_validation=null", "callbacks.checkpoint.every_n_train_steps=2", "trainer.max_steps=4")
ATOL = 1e-5


def _fsdp_run(out: Path, demo_dir: Path, *overrides: str) -> None:
    cmd = [sys.executable, "-m", "sphinx_x.train", "experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null",
           "strategy=fsdp", "trainer.devices=2", *COMMON, *overrides, f"hydra.run.dir={out}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _losses(run: Path) -> dict[int, float]:
    """train/loss per optimizer step from the run's CSV log (rank 0's last micro-batch of the step)."""
    rows = list(csv.DictReader(open(next(run.glob("csv/version_*/metrics.csv")))))
    return {int(r["step"]): float(r["train/loss"]) for r in rows if r.get("train/loss")}


def _trainable_keys(cfg) -> set[str]:
    model = build_sphinx(cfg.model, vocab_size=640)
    return {f"model.{k}" for k in model.trainable_state_dict()}


@pytest.fixture(scope="module")
def single(tmp_path_factory, demo_dir) -> tuple[Path, dict]:
    """The one-process reference: same global batches, accumulation 4."""
    from tests.testkit.configs import compose_config

    out = tmp_path_factory.mktemp("single")
    recorder = MicroBatchLosses()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", *COMMON], out)
        result = train(cfg, str(out), [recorder])
    finally:
        torch.set_num_threads(threads)
    return out, {"result": result, "keys": _trainable_keys(cfg), "micro_losses": recorder.losses}


class MicroBatchLosses(L.Callback):
    """``train/loss`` of every micro-batch, in order (the CSV log keeps one per optimizer step)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def test_two_fsdp_ranks_train_like_one_process(single, demo_dir, tmp_path, capsys):
    _, ref = single
    out = tmp_path / "fsdp"
    _fsdp_run(out, demo_dir)
    reference = load_checkpoint(Path(ref["result"]["checkpoint"]))
    full = load_checkpoint(out / "checkpoints" / "last.ckpt")
    # a full-state-dict checkpoint holds exactly the trainable weights (frozen experts are rebuilt)
    assert set(full["state_dict"]) == set(reference["state_dict"]) == ref["keys"]
    assert not any(".vision.experts." in k for k in full["state_dict"])
    assert full["global_step"] == 4
    for key, value in reference["state_dict"].items():
        torch.testing.assert_close(full["state_dict"][key], value, rtol=0, atol=ATOL, msg=key)
    assert full["per_source_totals"] == reference["per_source_totals"]  # the same 16 draws
    assert full["SphinxDataModule"]["sampler"] == reference["SphinxDataModule"]["sampler"]
    # losses: the log keeps rank 0's last micro-batch of step s, draw 4s+2 of the global sequence; the
    # single process computed the same draw as its micro-batch 4s+2, with the same weights
    fsdp_losses = _losses(out)
    assert sorted(fsdp_losses) == [0, 1, 2, 3] and len(ref["micro_losses"]) == 16
    for step, loss in fsdp_losses.items():
        assert loss == pytest.approx(ref["micro_losses"][4 * step + 2], abs=ATOL), step
    # export from the FSDP run loads and answers like the run's checkpoint
    assert export_main([str(out), str(tmp_path / "export")]) == 0
    exported = SphinxInference.from_run(tmp_path / "export")
    for key, value in full["state_dict"].items():
        torch.testing.assert_close(exported.model.state_dict()[key.removeprefix("model.")], value, rtol=0, atol=0)
    capsys.readouterr()


@pytest.mark.slow
def test_sharded_checkpoints_resume_and_export(single, demo_dir, tmp_path):
    import torch.distributed.checkpoint as dcp

    from sphinx_x.export import consolidate_sharded

    _, ref = single
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _fsdp_run(straight, demo_dir, "strategy.state_dict_type=sharded")
    step2 = straight / "checkpoints" / "step-00000002.ckpt"
    assert step2.is_dir() and (step2 / "meta.pt").is_file()
    for saved in (step2, straight / "checkpoints" / "last.ckpt"):
        keys = set(dcp.FileSystemReader(str(saved)).read_metadata().state_dict_metadata)
        weights = {k.removeprefix("model.") for k in keys if k.startswith("model.")}
        assert weights == ref["keys"]  # exactly the trainable weights, sharded over the two ranks
    _fsdp_run(resumed, demo_dir, "strategy.state_dict_type=sharded", f"ckpt_path={step2}")
    a = load_checkpoint(consolidate_sharded(straight, tmp_path / "a"))
    b = load_checkpoint(consolidate_sharded(resumed, tmp_path / "b"))
    assert a["global_step"] == b["global_step"] == 4
    assert set(a["state_dict"]) == set(b["state_dict"]) == ref["keys"]
    for key, value in a["state_dict"].items():
        assert torch.equal(b["state_dict"][key], value), key
    assert b["SphinxDataModule"]["sampler"] == a["SphinxDataModule"]["sampler"]
    assert b["per_source_totals"] == a["per_source_totals"]
    # and it matches the one-process run
    reference = load_checkpoint(Path(ref["result"]["checkpoint"]))
    for key, value in reference["state_dict"].items():
        torch.testing.assert_close(a["state_dict"][key], value, rtol=0, atol=ATOL, msg=key)
    assert export_main([str(resumed), str(tmp_path / "export")]) == 0
    exported = SphinxInference.from_run(tmp_path / "export")
    for key, value in a["state_dict"].items():
        assert torch.equal(exported.model.state_dict()[key.removeprefix("model.")], value), key


def test_fsdp_and_deepspeed_precision_pass_batches_through():
    """Lightning's FSDP / DeepSpeed precision walk a batch to cast it and fail on its frozen image
    frames ("A frozen dataclass was passed to `apply_to_collection`"); ours pass it on untouched."""
    from lightning.pytorch.plugins.precision import FSDPPrecision

    from sphinx_x.data.collate import Batch
    from sphinx_x.data.geometry import ImageFrame
    from sphinx_x.runtime.trainer import BatchDeepSpeedPrecision, BatchFSDPPrecision

    ids = torch.zeros(1, 4, dtype=torch.long)
    batch = Batch(ids, ids, ids, ids.to(torch.uint8), torch.zeros(1, 3, 2, 2, dtype=torch.uint8),
                  torch.zeros(1, dtype=torch.long), ["a"], ["0"], [[ImageFrame(2, 2, 2, 1, 1.0, 0.0, 0.0)]])
    with pytest.raises(ValueError, match="frozen dataclass"):
        FSDPPrecision("bf16-mixed").convert_input(((batch, 0), {}))
    for plugin in (BatchFSDPPrecision("bf16-mixed"), BatchDeepSpeedPrecision("bf16-mixed")):
        assert plugin.convert_input(((batch, 0), {})) == ((batch, 0), {})
