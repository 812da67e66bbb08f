"""Lightning Trainer, strategy, logger and callbacks from the Hydra config."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.plugins.precision import DeepSpeedPrecision, FSDPPrecision
from lightning.pytorch.strategies import FSDPStrategy
from lightning.pytorch.trainer.states import TrainerFn
from omegaconf import DictConfig, OmegaConf

from sphinx_x.runtime.config import accumulation, requeue_signal

log = logging.getLogger(__name__)


def build_strategy(cfg: DictConfig, layer_classes: set[type] | None = None, precision: str = "32-true") -> Any:
    """``strategy.name`` -> a Lightning strategy; FSDP wraps each decoder layer class (on CPU too, over gloo)."""
    name = cfg.name
    if name == "auto":
        return "auto"
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=cfg.find_unused_parameters,
                           process_group_backend=cfg.process_group_backend)
    if name == "fsdp":
        return SphinxFSDPStrategy(
            auto_wrap_policy=layer_classes, sharding_strategy=cfg.sharding_strategy,
            activation_checkpointing_policy=layer_classes if cfg.activation_checkpointing else None,
            cpu_offload=cfg.cpu_offload, use_orig_params=True, state_dict_type=cfg.get("state_dict_type", "full"),
            precision_plugin=BatchFSDPPrecision(precision))  # type: ignore[arg-type]
    if name == "deepspeed":
        from lightning.pytorch.strategies import DeepSpeedStrategy

        return DeepSpeedStrategy(stage=cfg.stage, offload_optimizer=cfg.offload_optimizer,
                                 offload_parameters=cfg.offload_parameters,
                                 precision_plugin=BatchDeepSpeedPrecision(precision))  # type: ignore[arg-type]
    raise ValueError(f"strategy.name: unknown {name!r}")


class BatchFSDPPrecision(FSDPPrecision):
    """FSDP precision that passes our :class:`~sphinx_x.data.collate.Batch` through unchanged and clips
    gradients by their global norm over all shards (``FullyShardedDataParallel.clip_grad_norm_``).

    The batch's tensors are integer (ids, masks, uint8 pixels), so there is nothing to cast; Lightning's
    generic walk would deep-copy it every step and cannot rebuild its frozen image-frame records.
    Lightning's own FSDP precision refuses ``gradient_clip_algorithm='norm'``.
    """

    fsdp_module: Any = None  # the wrapped root, set by SphinxFSDPStrategy

    def convert_input(self, data: Any) -> Any:
        return data

    def clip_grad_by_norm(self, optimizer: Any, clip_val: int | float) -> None:
        self.fsdp_module.clip_grad_norm_(clip_val)


class BatchDeepSpeedPrecision(DeepSpeedPrecision):
    """DeepSpeed precision that passes our Batch through unchanged (see :class:`BatchFSDPPrecision`)."""

    def convert_input(self, data: Any) -> Any:
        return data


class SphinxFSDPStrategy(FSDPStrategy):
    """Lightning's FSDP with :class:`BatchFSDPPrecision`, on GPUs and on CPU processes over gloo.

    On CPU: Lightning's connector refuses the exact ``FSDPStrategy`` class off CUDA, and torch's FSDP,
    given no ``device_id``, looks for an accelerator; with ``device_id=cpu`` it shards and computes there.
    """

    def _setup_model(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.root_device.type == "cpu":
            from lightning.fabric.strategies.fsdp import _setup_activation_checkpointing
            from torch.distributed.fsdp import FullyShardedDataParallel

            model = FullyShardedDataParallel(module=model, cpu_offload=self.cpu_offload,
                                             mixed_precision=self.mixed_precision_config,
                                             sharding_strategy=self.sharding_strategy,
                                             device_id=torch.device("cpu"), **self.kwargs)
            _setup_activation_checkpointing(model, self._activation_checkpointing_kwargs)
        else:
            model = super()._setup_model(model)
        if isinstance(self.precision_plugin, BatchFSDPPrecision):
            self.precision_plugin.fsdp_module = model
        return model

    def load_checkpoint(self, checkpoint_path: Any, weights_only: bool | None = None) -> dict[str, Any]:
        """Lightning's loading, for checkpoints that hold only the trainable weights (frozen ones are
        rebuilt from the config): a sharded one loads the keys it has, and the returned checkpoint lists
        the loaded weights under ``state_dict`` (Lightning drops them) for the module's own check."""
        from lightning.fabric.strategies.fsdp import _is_sharded_checkpoint
        from lightning.fabric.utilities.load import _METADATA_FILENAME

        path = Path(self.broadcast(checkpoint_path))
        if not _is_sharded_checkpoint(path):
            loaded = torch.load(path, map_location="cpu", mmap=True, weights_only=True)["state_dict"]
            checkpoint = super().load_checkpoint(path, weights_only=weights_only)
            checkpoint["state_dict"] = loaded
            return checkpoint
        from lightning.fabric.strategies.fsdp import _get_sharded_state_dict_context
        from torch.distributed.checkpoint import FileSystemReader, load
        from torch.distributed.checkpoint.optimizer import load_sharded_optimizer_state_dict
        from torch.distributed.fsdp import FullyShardedDataParallel

        assert self.model is not None
        reader = FileSystemReader(path)
        saved = set(reader.read_metadata().state_dict_metadata)
        with _get_sharded_state_dict_context(self.model):
            module_state = {"model": {k: v for k, v in self.model.state_dict().items() if f"model.{k}" in saved}}
            load(module_state, storage_reader=reader)
            self.model.load_state_dict(module_state["model"], strict=False)
            if self.lightning_module.trainer.state.fn == TrainerFn.FITTING:
                for index, optimizer in enumerate(self.optimizers):
                    key = f"optimizer_{index}"
                    state = load_sharded_optimizer_state_dict(model_state_dict=module_state["model"],
                                                              optimizer_key=key, storage_reader=reader)
                    optimizer.load_state_dict(FullyShardedDataParallel.optim_state_dict_to_load(
                        optim_state_dict=state[key], model=self.model, optim=optimizer))
        checkpoint = torch.load(path / _METADATA_FILENAME, weights_only=weights_only)
        checkpoint["state_dict"] = module_state["model"]
        return checkpoint


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


class RequeueOnSignal(L.Callback):
    """Preemption / time limit: on ``signum`` (SLURM sends it ``signal_delay_s`` before the kill, see
    conf/hydra/launcher/slurm.yaml) finish the current optimizer step, save ``checkpoints/last.ckpt``,
    then requeue: through the handler that was there before (submitit's, which resubmits the same
    Hydra job into the same run directory), else ``scontrol requeue`` under SLURM, else just stop.
    The requeued run resumes from that checkpoint (``ckpt_path=auto``, what null means under SLURM).

    Saving waits for a step boundary, so the checkpoint matches an optimizer step (exact resume); all
    ranks agree on the signal through one all-reduce per step.
    """

    def __init__(self, signum: int, dirpath: str):
        self.signum, self.dirpath = signum, Path(dirpath)
        self.received = False
        self.previous: Any = None
        self._step_at_batch_start = -1

    def _note(self, signum: int, frame: Any) -> None:
        self.received = True

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.previous = signal.getsignal(self.signum)
        signal.signal(self.signum, self._note)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        if self.previous is not None:
            signal.signal(self.signum, self.previous)
            self.previous = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._step_at_batch_start = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step == self._step_at_batch_start:
            return  # mid-accumulation: wait for the optimizer step
        flag = torch.tensor(float(self.received), device=pl_module.device)
        if float(trainer.strategy.reduce(flag, reduce_op="sum")) == 0:
            return
        path = self.dirpath / "last.ckpt"
        trainer.save_checkpoint(path)
        trainer.strategy.barrier("requeue")
        log.warning("signal %s: saved %s at step %d; requeueing", signal.Signals(self.signum).name, path,
                    trainer.global_step)
        previous, self.previous = self.previous, None
        signal.signal(self.signum, previous if previous is not None else signal.SIG_DFL)
        trainer.should_stop = True
        if callable(previous):  # submitit: checkpoint() the job, requeue it, exit this process
            previous(self.signum, None)
        elif "SLURM_JOB_ID" in os.environ and trainer.is_global_zero:
            job = os.environ.get("SLURM_ARRAY_JOB_ID")
            job = f"{job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if job else os.environ["SLURM_JOB_ID"]
            subprocess.run(["scontrol", "requeue", job], check=False)


def build_trainer(cfg: DictConfig, output_dir: str, layer_classes: set[type] | None = None,
                  extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """The Lightning trainer of ``cfg``; ``extra_callbacks`` (timers, probes) run after its own, checkpoints
    included, on every hook."""
    trainer_kwargs: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    callbacks: list[Any] = [StepCheckpoint(
        dirpath=str(Path(output_dir) / "checkpoints"), filename="step-{step:08d}", auto_insert_metric_name=False,
        every_n_train_steps=cfg.callbacks.checkpoint.every_n_train_steps,
        save_last=cfg.callbacks.checkpoint.save_last, save_top_k=cfg.callbacks.checkpoint.save_top_k,
        enable_version_counter=False)]  # a resumed run overwrites its own last.ckpt (the one train() returns)
    signum = requeue_signal(cfg.get("requeue_signal"))
    if signum is not None:
        callbacks.append(RequeueOnSignal(signum, str(Path(output_dir) / "checkpoints")))
    plugins: list[Any] = []
    if SLURMEnvironment.detect():  # requeueing is RequeueOnSignal's (and submitit's), not Lightning's as well
        plugins.append(SLURMEnvironment(auto_requeue=False))
    if cfg.callbacks.lr_monitor:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cfg.callbacks.get("benchmark_validation"):
        from sphinx_x.eval.callback import BenchmarkValidation

        callbacks.append(BenchmarkValidation(**OmegaConf.to_container(cfg.callbacks.benchmark_validation, resolve=True)))
    trainer = L.Trainer(
        **trainer_kwargs, strategy=build_strategy(cfg.strategy, layer_classes, str(cfg.trainer.precision)),
        accumulate_grad_batches=accumulation(cfg), use_distributed_sampler=False, callbacks=callbacks,
        plugins=plugins or None,
        logger=build_logger(cfg, output_dir, f"{cfg.task_name}-{cfg.model.name}"), default_root_dir=output_dir)
    trainer.callbacks.extend(extra_callbacks)  # after Lightning's ordering, which puts checkpoints last
    return trainer
