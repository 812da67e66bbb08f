"""The LightningModule: steps, optimiser groups, schedule, frozen encoders, logging, slim checkpoints."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from sphinx_x.data.collate import Batch
from sphinx_x.data.records import RejectLog
from sphinx_x.model.build import build_sphinx
from sphinx_x.model.param_groups import parameter_groups
from sphinx_x.model.sphinx import SphinxX

log = logging.getLogger(__name__)
TOTALS_KEY = "per_source_totals"  # checkpoint entry: running samples / tokens per source


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """LR multiplier: linear warm-up from 0, then cosine from 1 down to ``min_ratio`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class SphinxModule(L.LightningModule):
    """Trains the LLM, the projector and the special embeddings; encoders stay frozen."""

    def __init__(self, model: DictConfig | dict, optim: DictConfig | dict, vocab_size: int | None = None,
                 global_batch_size: int | None = None):
        super().__init__()
        model_dict, optim_dict = _plain(model), _plain(optim)
        self.save_hyperparameters({"model": model_dict, "optim": optim_dict,
                                   "vocab_size": vocab_size, "global_batch_size": global_batch_size})
        self.model: SphinxX = build_sphinx(OmegaConf.create(model_dict), vocab_size=vocab_size)
        self.strict_loading = False  # checkpoints hold only trainable weights
        self._step_started: float | None = None
        self._seen_samples: dict[str, int] = {}
        self._seen_tokens: dict[str, int] = {}

    # ----------------------------------------------------------------- steps
    def forward(self, batch: Batch, return_logits: bool = False):
        return self.model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels,
                          labels=batch.labels, return_logits=return_logits, position_ids=batch.position_ids,
                          sample_index=batch.sample_index)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        self._count_per_source(batch)
        if len(batch) == 0:  # every draw of this micro-batch was rejected: a zero loss keeps ranks in step
            return sum((p.sum() for p in self.model.parameters() if p.requires_grad), torch.zeros((), device=self.device)) * 0.0
        out = self(batch)
        n = len(batch)
        self.log("train/loss", out.loss, prog_bar=True, batch_size=n)
        if out.aux_loss is not None:
            self.log("train/router_aux_loss", out.aux_loss, batch_size=n)
        self._log_per_source("train", batch, out.per_sample_loss_sum, out.per_sample_tokens)
        stats = batch.stats
        self.log("train/visual_tokens_per_sample", stats.get("visual_tokens", 0) / n, batch_size=n)
        self.log("train/skipped_tile_fraction", stats.get("skipped_tiles", 0) / max(stats.get("tiles", 0), 1),
                 batch_size=n)
        return out.loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        if batch.reject_rows:
            self.rejects.write_validation([{**row, "stage": "val"} for row in batch.reject_rows])
        if len(batch) == 0:
            return
        out = self(batch)
        self.log("val/loss", out.lm_loss, prog_bar=True, batch_size=max(len(batch), 1), sync_dist=True)
        self._log_per_source("val", batch, out.per_sample_loss_sum, out.per_sample_tokens)

    def _log_per_source(self, stage: str, batch: Batch, loss_sum: torch.Tensor, tokens: torch.Tensor) -> None:
        for index in batch.source_index.unique().tolist():
            rows = batch.source_index == index
            count = tokens[rows].sum()
            if count > 0:
                self.log(f"{stage}/loss/{batch.sources[index]}", loss_sum[rows].sum() / count,
                         batch_size=int(rows.sum()), on_step=stage == "train", on_epoch=stage != "train")

    def _count_per_source(self, batch: Batch) -> None:
        """Running totals per source of samples, tokens and rejected draws, summed over ranks.

        One all-reduce per micro-batch that every rank joins (whatever sources its batch holds), so
        every rank holds the same totals: they are logged without further syncing, saved in
        checkpoints and continued on resume. This rank's rejected draws are written to the rejects
        file here, where the batch is consumed (never where a DataLoader prefetched it).
        """
        names = batch.sources
        index = batch.source_index.to(self.device)
        lengths = batch.sample_lengths().to(self.device)
        counts = torch.zeros(3, len(names), dtype=torch.long, device=self.device)
        counts[0].index_add_(0, index, torch.ones_like(index))
        counts[1].index_add_(0, index, lengths.long())
        counts[2] = torch.tensor([batch.rejected.get(name, 0) for name in names], dtype=torch.long)
        counts = self.trainer.strategy.reduce(counts, reduce_op="sum").tolist()
        rejects = self.rejects
        if batch.reject_rows:
            rejects.write_consumed([{**row, "stage": "train"} for row in batch.reject_rows])
        rejects.add_consumed(dict(zip(names, counts[2], strict=True)))
        for k, name in enumerate(names):
            self._seen_samples[name] = self._seen_samples.get(name, 0) + int(counts[0][k])
            self._seen_tokens[name] = self._seen_tokens.get(name, 0) + int(counts[1][k])
            self.log(f"train/samples/{name}", float(self._seen_samples[name]))
            self.log(f"train/tokens/{name}", float(self._seen_tokens[name]))
        rejected = rejects.per_source()
        for name in sorted(set(names) | set(rejected)):
            self.log(f"train/rejected/{name}", float(rejected.get(name, 0)))
        self.log("train/rejected", float(sum(rejected.values())))

    @property
    def rejects(self) -> RejectLog:
        """The datamodule's reject ledger (a private one when training without a datamodule)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        ledger = getattr(datamodule, "rejects", None)
        if ledger is None:
            ledger = self._own_rejects = getattr(self, "_own_rejects", None) or RejectLog()
        return ledger

    def on_train_end(self) -> None:
        rejects = self.rejects
        if self.trainer.is_global_zero:
            log.info("rejected %d records in all (per source: %s; loaded: %s, training draws: %s); rows in %s",
                     rejects.total(), rejects.per_source(), dict(rejects.loaded), dict(rejects.consumed),
                     rejects.path)

    # ----------------------------------------------------------------- throughput
    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        self._step_started = time.perf_counter()

    def on_train_batch_end(self, outputs: Any, batch: Batch, batch_idx: int) -> None:
        if self._step_started is not None:
            seconds = time.perf_counter() - self._step_started
            tokens = float(batch.attention_mask.sum()) * self.trainer.world_size
            self.log("train/tokens_per_s", tokens / max(seconds, 1e-9), prog_bar=True, batch_size=len(batch))

    # ----------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.hparams["optim"]
        groups = parameter_groups(self.model, cfg["lr"], cfg["weight_decay"], cfg.get("llm_lr_scale", 1.0),
                                  cfg.get("vision_layer_decay", 1.0))
        optimizer = _optimizer(cfg["name"], groups, lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"])
        total = int(self.trainer.estimated_stepping_batches)
        warmup = round(cfg["warmup_epochs"] * self._steps_per_epoch(total))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total, cfg["min_lr_ratio"]))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _steps_per_epoch(self, total: int) -> float:
        """Optimizer steps in one epoch of the mixture (the datamodule's, known after its set-up)."""
        samples = getattr(self.trainer.datamodule, "samples_per_epoch", None)
        batch = self.hparams.get("global_batch_size")
        return samples / batch if samples and batch else float(total)

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Drop frozen weights (encoders, a frozen LLM): they are rebuilt from the config. Keep the
        per-source running totals (plain ints), so a resumed run continues them."""
        state = checkpoint.get("state_dict", {})
        for key in self.model.frozen_state_keys():
            state.pop(f"model.{key}", None)
        checkpoint[TOTALS_KEY] = {"samples": dict(self._seen_samples), "tokens": dict(self._seen_tokens)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        expected = {f"model.{k}" for k in self.model.trainable_state_dict()}
        missing = expected - set(checkpoint.get("state_dict", {}))
        if missing:
            raise KeyError(f"checkpoint lacks trainable weights: {sorted(missing)[:5]} ...")
        totals = checkpoint.get(TOTALS_KEY) or {}
        self._seen_samples = {str(k): int(v) for k, v in (totals.get("samples") or {}).items()}
        self._seen_tokens = {str(k): int(v) for k, v in (totals.get("tokens") or {}).items()}


def _plain(cfg: DictConfig | dict) -> dict[str, Any]:
    """A resolved plain dict (interpolations may point outside the node, so resolve in place)."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)  # type: ignore


def _optimizer(name: str, groups: list[dict[str, Any]], **kwargs: Any) -> torch.optim.Optimizer:
    if name == "adamw":
        # the fused kernel (CPU and CUDA) steps every tensor at once: ~15x faster than the per-tensor loop
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for g in groups for p in g["params"])
        return torch.optim.AdamW(groups, fused=fused, **kwargs)
    if name == "adamw_8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(groups, **kwargs)
    raise ValueError(f"optim.name must be 'adamw' or 'adamw_8bit', got {name!r}")
