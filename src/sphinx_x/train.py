"""Train SPHINX-X: ``python -m sphinx_x.train experiment=demo`` (Hydra; see sphinx_x/conf/train.yaml)."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sphinx_x.data.datamodule import SphinxDataModule
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.tokenize import load_tokenizer
from sphinx_x.model.module import SphinxModule
from sphinx_x.runtime.assets import decoder_layer_classes, ensure_demo_world
from sphinx_x.runtime.config import validate_config
from sphinx_x.runtime.memory import check_fits
from sphinx_x.runtime.trainer import build_trainer

log = logging.getLogger(__name__)
# Our sampler resumes mid-epoch through the datamodule's state in the checkpoint; Lightning cannot see that.
warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")


def resolve_ckpt_path(ckpt_path: str | None, output_dir: str) -> str | None:
    """``auto`` (the default under SLURM, where ``null`` means ``auto``): the run directory's newest
    checkpoint (``checkpoints/last.ckpt`` or a step checkpoint), so a requeued job resumes where the
    last one saved; ``None`` on a first start. Any other value is passed on unchanged."""
    if ckpt_path is None and "SLURM_JOB_ID" in os.environ:
        ckpt_path = "auto"
    if ckpt_path != "auto":
        return ckpt_path
    saved = [p for p in (Path(output_dir) / "checkpoints").glob("*.ckpt") if p.is_file()]
    if not saved:
        log.info("ckpt_path=auto: no checkpoint in %s/checkpoints, starting from scratch", output_dir)
        return None
    newest = max(saved, key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"))
    log.info("ckpt_path=auto: resuming from %s", newest)
    return str(newest)


def train(cfg: DictConfig, output_dir: str, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit the model described by ``cfg`` (``callbacks`` run after the trainer's own); returns the final logged metrics, the run's paths and the
    rejected records per source (rejected when read, plus rejected training draws over all ranks: the
    same count as the rejects file, the ``train/rejected`` metric and the checkpoint)."""
    validate_config(cfg)
    check_fits(cfg)  # on GPUs: the memory plan must fit before anything is allocated
    if cfg.get("num_threads"):
        torch.set_num_threads(int(cfg.num_threads))
    L.seed_everything(cfg.seed, workers=True)
    ensure_demo_world(cfg)
    tokenizer = load_tokenizer(cfg.model.tokenizer, trust_remote_code=cfg.model.llm.trust_remote_code)
    processor = SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data)
    datamodule = SphinxDataModule(cfg.data, processor)
    module = SphinxModule(cfg.model, cfg.optim, vocab_size=len(tokenizer), global_batch_size=cfg.global_batch_size)
    trainer = build_trainer(cfg, output_dir, decoder_layer_classes(module.model.llm), callbacks)
    if trainer.is_global_zero:
        processor.save_pretrained(Path(output_dir) / "processor")
        OmegaConf.save(cfg, Path(output_dir) / "config.yaml", resolve=True)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.ckpt_path, output_dir))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    last = Path(output_dir) / "checkpoints" / "last.ckpt"
    return {"metrics": metrics, "output_dir": output_dir, "checkpoint": str(last) if last.exists() else None,
            "global_step": trainer.global_step, "rejected": datamodule.rejects.per_source(),
            "rejected_total": datamodule.rejects.total()}


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    result = train(cfg, HydraConfig.get().runtime.output_dir)
    log.info("done: step %d, checkpoint %s", result["global_step"], result["checkpoint"])
    if cfg.logger.name == "wandb":  # close the run: a multirun's next job would otherwise log into it
        import wandb

        wandb.finish()
    return result["metrics"].get("train/loss")


if __name__ == "__main__":
    main()
