"""Lightning Trainer, strategy, logger and callbacks from the Hydra config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from sphinx_x.runtime.config import accumulation


def build_strategy(cfg: DictConfig, layer_classes: set[type] | None = None) -> Any:
    """``strategy.name`` -> a Lightning strategy; FSDP wraps each decoder layer class."""
    name = cfg.name
    if name == "auto":
        return "auto"
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=cfg.find_unused_parameters,
                           process_group_backend=cfg.process_group_backend)
    if name == "fsdp":
        from lightning.pytorch.strategies import FSDPStrategy

        return FSDPStrategy(auto_wrap_policy=layer_classes, sharding_strategy=cfg.sharding_strategy,
                            activation_checkpointing_policy=layer_classes if cfg.activation_checkpointing else None,
                            cpu_offload=cfg.cpu_offload, use_orig_params=True)
    if name == "deepspeed":
        from lightning.pytorch.strategies import DeepSpeedStrategy

        return DeepSpeedStrategy(stage=cfg.stage, offload_optimizer=cfg.offload_optimizer,
                                 offload_parameters=cfg.offload_parameters)
    raise ValueError(f"strategy.name: unknown {name!r}")


def build_logger(cfg: DictConfig, save_dir: str, run_name: str) -> Logger:
    if cfg.logger.name == "wandb":
        offline = cfg.logger.offline if cfg.logger.offline is not None else not os.environ.get("WANDB_API_KEY")
        return WandbLogger(project=cfg.logger.project, entity=cfg.logger.entity, group=cfg.logger.group,
                           tags=list(cfg.logger.tags), name=run_name, save_dir=save_dir, offline=offline,
                           config=OmegaConf.to_container(cfg, resolve=True))
    return CSVLogger(save_dir=save_dir, name="csv")


class StepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that saves step checkpoints only right after an optimizer step.

    Lightning checks ``every_n_train_steps`` after every micro-batch; after a resume, the micro-batches
    that accumulate towards the next step still see the restored step count and would save a
    checkpoint mid-accumulation, whose data position no optimizer step matches.
    """

    _step_at_batch_start = -1

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._step_at_batch_start = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step == self._step_at_batch_start:
            return  # no optimizer step in this micro-batch: in the middle of gradient accumulation
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def build_trainer(cfg: DictConfig, output_dir: str, layer_classes: set[type] | None = None) -> L.Trainer:
    trainer_kwargs: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    callbacks: list[Any] = [StepCheckpoint(
        dirpath=str(Path(output_dir) / "checkpoints"), filename="step-{step:08d}", auto_insert_metric_name=False,
        every_n_train_steps=cfg.callbacks.checkpoint.every_n_train_steps,
        save_last=cfg.callbacks.checkpoint.save_last, save_top_k=cfg.callbacks.checkpoint.save_top_k)]
    if cfg.callbacks.lr_monitor:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cfg.callbacks.get("benchmark_validation"):
        from sphinx_x.eval.callback import BenchmarkValidation

        callbacks.append(BenchmarkValidation(**OmegaConf.to_container(cfg.callbacks.benchmark_validation, resolve=True)))
    return L.Trainer(
        **trainer_kwargs, strategy=build_strategy(cfg.strategy, layer_classes),
        accumulate_grad_batches=accumulation(cfg), use_distributed_sampler=False, callbacks=callbacks,
        logger=build_logger(cfg, output_dir, f"{cfg.task_name}-{cfg.model.name}"), default_root_dir=output_dir)
