"""Pad samples into a Batch: the only structure the model receives from the data pipeline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from sphinx_x.data.dataset import Rejected, Sample, sample_stats
from sphinx_x.data.geometry import ImageFrame
from sphinx_x.data.slots import IGNORE_INDEX, TEXT


@dataclass
class Batch:
    input_ids: torch.Tensor  # (batch, length)
    attention_mask: torch.Tensor  # (batch, length)
    labels: torch.Tensor  # (batch, length)
    slot_kind: torch.Tensor  # (batch, length) uint8
    pixels: torch.Tensor  # (kept tile groups in the batch, 3, P, P) uint8, row-major slot order
    source_index: torch.Tensor  # (batch,) index into ``sources``
    sources: list[str]
    ids: list[str]
    frames: list[list[ImageFrame]]
    stats: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # rejected draws per source in this batch
    reject_rows: list[dict[str, Any]] = field(default_factory=list)  # their rows for the rejects file

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move the tensors (Lightning calls this to put a batch on the device)."""
        for name in ("input_ids", "attention_mask", "labels", "slot_kind", "pixels", "source_index"):
            setattr(self, name, getattr(self, name).to(device, non_blocking=non_blocking))
        return self

    def pin_memory(self) -> Batch:
        for name in ("input_ids", "attention_mask", "labels", "slot_kind", "pixels", "source_index"):
            setattr(self, name, getattr(self, name).pin_memory())
        return self


class Collator:
    """Pads to the longest sample (rounded up to ``pad_to_multiple_of``) on the given side."""

    def __init__(self, pad_id: int, source_names: list[str], padding_side: Literal["right", "left"] = "right",
                 pad_to_multiple_of: int = 8):
        self.pad_id = pad_id
        self.source_names = source_names
        self.padding_side = padding_side
        self.multiple = pad_to_multiple_of

    def __call__(self, items: list[Sample | Rejected]) -> Batch:
        samples = [item for item in items if isinstance(item, Sample)]
        rejects = [item for item in items if isinstance(item, Rejected)]
        rejected = Counter(item.source for item in rejects)
        length = max((s.input_ids.numel() for s in samples), default=0)
        length = -(-length // self.multiple) * self.multiple if length else 0
        n = len(samples)
        input_ids = torch.full((n, length), self.pad_id, dtype=torch.long)
        labels = torch.full((n, length), IGNORE_INDEX, dtype=torch.long)
        slot_kind = torch.full((n, length), TEXT, dtype=torch.uint8)
        attention = torch.zeros((n, length), dtype=torch.long)
        for row, sample in enumerate(samples):
            size = sample.input_ids.numel()
            cols = slice(0, size) if self.padding_side == "right" else slice(length - size, length)
            input_ids[row, cols] = sample.input_ids
            labels[row, cols] = sample.labels
            slot_kind[row, cols] = sample.slot_kind
            attention[row, cols] = 1
        pixels = torch.cat([s.pixels for s in samples]) if samples else torch.empty(0, 3, 1, 1, dtype=torch.uint8)
        return Batch(
            input_ids=input_ids, attention_mask=attention, labels=labels, slot_kind=slot_kind, pixels=pixels,
            source_index=torch.tensor([self.source_names.index(s.source) for s in samples], dtype=torch.long),
            sources=self.source_names, ids=[s.id for s in samples], frames=[s.frames for s in samples],
            stats=sample_stats(samples), rejected=dict(rejected), reject_rows=[item.row for item in rejects],
        )
