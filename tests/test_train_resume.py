"""Exact resume, twice over: a run killed twice and resumed twice ends with the uninterrupted run's
weights, data position and per-source totals (CPU, the tiny demo model, gradient accumulation 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch

from sphinx_x.train import train

# micro-batches of 2, global batch 4: two micro-batches per optimizer step
RUN = ("data.micro_batch_size=2", "global_batch_size=4", "trainer.max_steps=6",
       "callbacks.checkpoint.every_n_train_steps=2")


class Killed(Exception):
    """Stands for SIGKILL: the run stops at once, nothing is saved on the way out."""


class KillAt(L.Callback):
    """Kills the run at the end of micro-batch ``batch`` of this process (after any checkpoint of it)."""

    def __init__(self, batch: int):
        self.batch, self.seen = batch, 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seen += 1
        if self.seen == self.batch:
            raise Killed


def _ckpt(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


TOKEN_BUDGET = ("data.packing=true", "data.max_tokens_per_batch=768", "data.pack_buffer=24")  # 2 rows of 384


@pytest.mark.parametrize("collation", [(), ("data.num_samples=20",), ("data.packing=true", "data.bucket_by_length=true"),
                                       TOKEN_BUDGET],
                         ids=["padded", "padded-across-epochs", "packed+bucketed", "token-budget"])
def test_run_kill_resume_kill_resume_equals_straight_run(demo_config, tmp_path, one_thread, collation):
    run = (*RUN, *collation)
    token_budget = collation == TOKEN_BUDGET
    straight = train(demo_config(*run, output_dir=tmp_path / "straight"), str(tmp_path / "straight"))

    with pytest.raises(Killed):  # killed in the middle of step 3's accumulation
        train(demo_config(*run, output_dir=tmp_path / "a"), str(tmp_path / "a"), [KillAt(5)])
    step2 = tmp_path / "a" / "checkpoints" / "step-00000002.ckpt"
    assert not (tmp_path / "a" / "checkpoints" / "step-00000004.ckpt").exists()

    with pytest.raises(Killed):  # resumed, then killed in the middle of step 5's accumulation
        train(demo_config(*run, f"ckpt_path={step2}", output_dir=tmp_path / "b"), str(tmp_path / "b"), [KillAt(5)])
    step4 = tmp_path / "b" / "checkpoints" / "step-00000004.ckpt"
    saved = sorted(p.name for p in (tmp_path / "b" / "checkpoints").glob("step-*.ckpt"))
    assert saved == ["step-00000004.ckpt"]  # none mid-accumulation right after the resume
    if token_budget:  # micro-batches hold as many samples as fill 2 rows: the position is counted in batches
        assert _ckpt(step4)["SphinxDataModule"]["sampler"]["consumed_batches"] == 4 * 2
    else:
        assert _ckpt(step4)["SphinxDataModule"]["sampler"]["consumed"] == 4 * 4  # 4 steps x 4 samples

    resumed = train(demo_config(*run, f"ckpt_path={step4}", output_dir=tmp_path / "c"), str(tmp_path / "c"))
    assert resumed["global_step"] == straight["global_step"] == 6
    expected, got = _ckpt(Path(straight["checkpoint"])), _ckpt(Path(resumed["checkpoint"]))
    assert expected["state_dict"].keys() == got["state_dict"].keys()
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    assert got["SphinxDataModule"]["sampler"] == expected["SphinxDataModule"]["sampler"]
    # per-source running totals continue from the checkpoint instead of restarting at 0
    assert got["per_source_totals"] == expected["per_source_totals"]
    samples = sum(got["per_source_totals"]["samples"].values())
    assert samples > 6 * 2 * 2 if token_budget else samples == 6 * 4  # 2 rows hold more than 2 samples
    for name in ("train/samples/demo_llava", "train/tokens/demo_text"):
        assert resumed["metrics"][name] == straight["metrics"][name]


def test_requeued_job_resumes_from_its_run_directory(demo_config, tmp_path, monkeypatch, one_thread):
    """A SLURM job killed and restarted in the same run directory (ckpt_path null means auto there)
    continues from its newest checkpoint and ends with the uninterrupted run's weights."""
    straight = train(demo_config(*RUN, output_dir=tmp_path / "straight"), str(tmp_path / "straight"))
    run = tmp_path / "job"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    with pytest.raises(Killed):  # first start: no checkpoint yet, killed after step 2 was saved
        train(demo_config(*RUN, output_dir=run), str(run), [KillAt(5)])
    assert (run / "checkpoints" / "last.ckpt").exists()
    counter = KillAt(10**6)  # counts this process's micro-batches, never kills
    requeued = train(demo_config(*RUN, output_dir=run), str(run), [counter])
    assert requeued["global_step"] == 6 and counter.seen == (6 - 2) * 2  # steps 3..6 only, 2 micro-batches each
    expected, got = _ckpt(Path(straight["checkpoint"])), _ckpt(Path(requeued["checkpoint"]))
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key
    assert got["SphinxDataModule"]["sampler"] == expected["SphinxDataModule"]["sampler"]


def test_ckpt_path_auto_outside_slurm(tmp_path, monkeypatch):
    from sphinx_x.train import resolve_ckpt_path

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert resolve_ckpt_path(None, str(tmp_path)) is None
    assert resolve_ckpt_path("auto", str(tmp_path)) is None  # first start
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step-00000002.ckpt").write_bytes(b"x")
    assert resolve_ckpt_path("auto", str(tmp_path)) == str(tmp_path / "checkpoints" / "step-00000002.ckpt")
    assert resolve_ckpt_path("some/other.ckpt", str(tmp_path)) == "some/other.ckpt"
