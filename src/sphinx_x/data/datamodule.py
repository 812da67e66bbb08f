"""LightningDataModule: sources -> records -> weighted mixture -> tokenised, tiled, padded batches."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from sphinx_x.data.bucketing import CHARS_PER_TOKEN, estimated_length, measured_tokens_per_char
from sphinx_x.data.dataset import MixtureDataset
from sphinx_x.data.mixture import MixtureSampler, mixture_weights
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RejectLog
from sphinx_x.data.sources import SourceSpec
from sphinx_x.data.sources.base import load_source
from sphinx_x.data.token_batches import TokenBudgetBatchSampler

log = logging.getLogger(__name__)


def source_specs(data_cfg: DictConfig) -> list[SourceSpec]:
    """Validated source specs of the mixture, in config order; every source named elsewhere
    (``data.val_sources``) must be one of them."""
    if not data_cfg.sources:
        raise ValueError("data.sources: is empty, choose a mixture such as data=demo (conf/data/)")
    specs = []
    for key, cfg in data_cfg.sources.items():
        if not OmegaConf.is_dict(cfg):
            raise ValueError(f"data.sources.{key}: must be a source config, got {cfg!r}")
        fields: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        fields.setdefault("name", key)
        try:
            specs.append(SourceSpec(**fields))
        except TypeError as e:
            raise ValueError(f"data.sources.{key}: {e}") from e
        if not specs[-1].name or any(c in specs[-1].name for c in ":/ "):
            raise ValueError(f"data.sources.{key}.name: {specs[-1].name!r} must be non-empty without ':', '/' or spaces")
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"data.sources: two sources share a name: {sorted(n for n in names if names.count(n) > 1)}")
    check_source_names(data_cfg.get("val_sources"), names, "data.val_sources")
    if not set(names) - set(data_cfg.get("val_sources") or []):
        raise ValueError("data.val_sources: names every source; at least one must be left for training")
    return specs


def check_source_names(value: Any, names: list[str], field: str) -> None:
    """``value`` is a list of names of the mixture's sources (a typo is a config error, not a silent no-op)."""
    if value is None:
        return
    if not OmegaConf.is_list(value) and not isinstance(value, (list, tuple)):
        raise ValueError(f"{field}: must be a list of source names, got {value!r}")
    unknown = [v for v in value if v not in names]
    if unknown:
        raise ValueError(f"{field}: unknown source {unknown}; the mixture's sources are {names}")


def split_validation(records: list[Record], fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """Deterministic per-source hold-out of ``fraction`` of the records."""
    if fraction <= 0:
        return records, []
    order = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(fraction * len(records)))
    held = set(order[:n_val])
    return [r for i, r in enumerate(records) if i not in held], [records[i] for i in sorted(held)]


class SphinxDataModule(L.LightningDataModule):
    """Builds the mixture once per process; the sampler state lives in checkpoints."""

    def __init__(self, data: DictConfig, processor: SphinxProcessor, extra_prompts: dict | None = None):
        super().__init__()
        self.cfg = data
        self.processor = processor
        self.prompts = PromptPool(extra_prompts, seed=data.prompts.seed, fixed=data.prompts.fixed)
        self.rejects = RejectLog(data.rejects_path, strict=data.strict)
        self.specs = source_specs(data)
        self.files = {spec.name: spec.file_label for spec in self.specs}
        self.train_set: MixtureDataset | None = None
        self.val_set: MixtureDataset | None = None
        self.sampler: MixtureSampler | None = None
        self.token_batches: TokenBudgetBatchSampler | None = None  # data.max_tokens_per_batch
        self.samples_per_epoch: int | None = None
        self._pending_state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        trainer = self._trainer_or_none()
        self.rejects.rank = trainer.global_rank if trainer else 0  # load-time rows: rank 0 writes them
        train, val = [], []
        for spec in self.specs:
            records = load_source(spec, self.prompts, self.rejects)
            if not records:
                raise ValueError(f"data.sources.{spec.name}: no usable records in {spec.path} "
                                 f"(rejects: {self.cfg.rejects_path})")
            if spec.name in self.cfg.val_sources:
                val.append((spec.name, records))
                continue
            kept, held = split_validation(records, self.cfg.val_fraction, self.cfg.seed)
            train.append((spec.name, kept))
            if held:
                val.append((spec.name, held))
        self.train_set = MixtureDataset(train, self.processor, self.rejects.strict, self.files)
        self.val_set = MixtureDataset(val, self.processor, self.rejects.strict, self.files) if val else None
        train_specs = [s for s in self.specs if s.name in self.train_set.names]
        sizes = [s.size or n for s, n in zip(train_specs, self.train_set.counts, strict=True)]
        weights = mixture_weights(sizes, [s.weight for s in train_specs], self.cfg.weighting, self.cfg.temperature)
        # an epoch: data.num_samples draws, or by default one pass with every source at its size
        self.samples_per_epoch = int(self.cfg.num_samples or sum(sizes))
        self.weights = dict(zip(self.train_set.names, weights.tolist(), strict=True))
        log.info("mixture weights: %s; %d samples per epoch",
                 {k: round(v, 4) for k, v in self.weights.items()}, self.samples_per_epoch)
        max_tokens = self.cfg.get("max_tokens_per_batch")
        lengths = None
        if self.cfg.bucket_by_length or max_tokens:
            slots, rate = self.processor.layout.max_slots, 1 / CHARS_PER_TOKEN
            if max_tokens:  # budgets need the real rate; bucketing only ranks lengths
                rate = measured_tokens_per_char(self.train_set.records, lambda m: self.processor.template.render(m)[0],
                                                self.processor.tokenizer)
                log.info("token budget: %d tokens per micro-batch, %.3f text tokens per character", max_tokens, rate)
            lengths = [estimated_length(record, slots, rate) for record in self.train_set.records]
        self.sampler = MixtureSampler(self.train_set.counts, weights, self.samples_per_epoch, self.cfg.seed,
                                      rank=trainer.global_rank if trainer else 0,
                                      world_size=trainer.world_size if trainer else 1,
                                      lengths=lengths if self.cfg.bucket_by_length else None,
                                      micro_batch_size=int(self.cfg.micro_batch_size))
        if max_tokens:
            assert lengths is not None
            self.token_batches = TokenBudgetBatchSampler(self.sampler, lengths, int(self.cfg.max_length),
                                                         int(max_tokens), int(self.cfg.pack_buffer))
        if self._pending_state:
            self._resumable().load_state_dict(self._pending_state)

    def _resumable(self) -> MixtureSampler | TokenBudgetBatchSampler:
        """What the checkpoint's sampler state belongs to."""
        assert self.sampler is not None
        return self.token_batches or self.sampler

    def _trainer_or_none(self) -> L.Trainer | None:
        try:
            return self.trainer
        except RuntimeError:
            return None

    # ------------------------------------------------------------------ loaders
    def _loader(self, dataset: MixtureDataset, sampler: Any, padding_side: str = "right",
                batch_sampler: TokenBudgetBatchSampler | None = None) -> torch.utils.data.DataLoader:
        workers = int(self.cfg.num_workers)
        batching: dict[str, Any] = ({"batch_sampler": batch_sampler} if batch_sampler is not None
                                    else {"batch_size": self.cfg.micro_batch_size, "sampler": sampler})
        return torch.utils.data.DataLoader(
            dataset, **batching, num_workers=workers,
            collate_fn=self.processor.collator(dataset.names, padding_side, packing=bool(self.cfg.packing)),
            pin_memory=bool(self.cfg.pin_memory), persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        assert self.train_set is not None and self.sampler is not None
        trainer = self._trainer_or_none()
        if trainer is not None:
            self._resumable().set_epoch(trainer.current_epoch)
        return self._loader(self.train_set, self.sampler, batch_sampler=self.token_batches)

    def val_dataloader(self) -> list[torch.utils.data.DataLoader]:
        if self.val_set is None:
            return []
        return [self._loader(self.val_set, torch.utils.data.SequentialSampler(self.val_set))]

    # ------------------------------------------------------------------ resumable state
    def state_dict(self) -> dict[str, Any]:
        """Sampler position (global samples consumed in the current epoch) and the reject counts."""
        if self.sampler is None:
            return {}
        state = self._resumable().state_dict()
        trainer = self._trainer_or_none()
        if trainer is not None:
            # batches of this epoch so far, counted across resumptions by Lightning's progress tracking
            batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            if self.token_batches is not None:
                state["consumed_batches"] = batches  # per rank: token-budget batches differ in samples
            else:
                state["consumed"] = batches * self.cfg.micro_batch_size * trainer.world_size
        return {"sampler": state, "rejected": self.rejects.per_source(), "rejects": self.rejects.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending_state = state.get("sampler")
        if self.sampler is not None and self._pending_state:
            self._resumable().load_state_dict(self._pending_state)
        self.rejects.load_state_dict(state.get("rejects") or {})
