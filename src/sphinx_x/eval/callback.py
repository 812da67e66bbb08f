"""Benchmark scores as validation during training, with the same loop as ``sphinx-x-evaluate``.

Enable it through the callbacks config (see docs/inference.md)::

    benchmark_validation:
      _target_: sphinx_x.eval.callback.BenchmarkValidation
      benchmarks: [demo_vqa]
      benchmark_paths: {demo_vqa: ${paths.demo_dir}}
      limit: 32
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from sphinx_x.eval.benchmarks import EvalSample, get_benchmark
from sphinx_x.eval.loop import evaluate_benchmark
from sphinx_x.inference import SphinxInference

log = logging.getLogger(__name__)


def engine_from_training(pl_module: L.LightningModule, datamodule: Any) -> SphinxInference:
    """An inference engine around the in-memory model, with the datamodule's processor."""
    if not hasattr(datamodule, "processor"):
        raise ValueError("BenchmarkValidation needs trainer.fit(..., datamodule=SphinxDataModule(...)): "
                         "it takes the processor (tokenizer, template, visual layout) from there")
    return SphinxInference(pl_module.model, datamodule.processor, dict(pl_module.hparams["model"]),
                           device=pl_module.device)


class BenchmarkValidation(Callback):
    """Answers the first ``limit`` samples of each benchmark and logs ``val/<benchmark>/<score>``.

    Runs after each validation epoch or, with ``every_n_steps``, every that many optimizer steps.
    Every rank answers the same samples (keeps FSDP / ZeRO-3 ranks in step), so keep ``limit`` small.
    Benchmark folders: ``benchmark_paths[name]``, else ``<benchmark_root>/<name>``.
    """

    def __init__(self, benchmarks: Sequence[str], every_n_steps: int | None = None, limit: int | None = 32,
                 batch_size: int = 8, benchmark_paths: Mapping[str, str] | None = None,
                 benchmark_root: str | None = None, splits: Mapping[str, str] | None = None,
                 generation: Mapping[str, Any] | None = None, describe_first: bool = False) -> None:
        super().__init__()
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be null or >= 1, got {every_n_steps}")
        self.specs = [get_benchmark(name) for name in benchmarks]
        self.every_n_steps = every_n_steps
        self.limit, self.batch_size = limit, batch_size
        self.paths = dict(benchmark_paths or {})
        self.root = Path(benchmark_root or os.environ.get("SPHINX_X_BENCHMARKS", "data/benchmarks"))
        self.splits = dict(splits or {})
        self.generation = dict(generation or {})
        self.describe_first = describe_first
        self.samples: dict[str, list[EvalSample]] = {}
        self.last_step = -1

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Read the benchmarks once, before training starts (a missing folder fails fast)."""
        for spec in self.specs:
            if spec.name not in self.samples:
                path = self.paths.get(spec.name) or self.root / spec.name
                samples = spec.load(path, split=self.splits.get(spec.name))
                self.samples[spec.name] = samples[: self.limit] if self.limit else samples

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        if self.every_n_steps and step > 0 and step % self.every_n_steps == 0 and step != self.last_step:
            self.last_step = step
            self.run(trainer, pl_module, on_step=True)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.every_n_steps and not trainer.sanity_checking:
            self.run(trainer, pl_module, on_step=False)

    def run(self, trainer: L.Trainer, pl_module: L.LightningModule, on_step: bool) -> dict[str, float]:
        """Score every benchmark, log the scores and put each module back in its previous mode."""
        modes = {module: module.training for module in pl_module.modules()}
        metrics: dict[str, float] = {}
        try:
            engine = engine_from_training(pl_module, trainer.datamodule)
            for spec in self.specs:
                _, scores = evaluate_benchmark(engine, spec, self.samples[spec.name], batch_size=self.batch_size,
                                               generation=self.generation, describe_first=self.describe_first)
                metrics.update({f"val/{spec.name}/{key}": value for key, value in scores.items()
                                if not key.startswith("n_")})
        finally:
            for module, training in modes.items():
                module.train(training)
        pl_module.log_dict(metrics, on_step=on_step, on_epoch=not on_step, batch_size=1)
        log.info("step %d: %s", trainer.global_step, ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        return metrics
