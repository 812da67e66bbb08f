"""Pad samples into a Batch: the only structure the model receives from the data pipeline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from sphinx_x.data.dataset import Rejected, Sample, sample_stats
from sphinx_x.data.geometry import ImageFrame
from sphinx_x.data.slots import IGNORE_INDEX, TEXT

TENSOR_FIELDS = ("input_ids", "attention_mask", "labels", "slot_kind", "pixels", "source_index", "position_ids",
                 "sample_index")


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
    # packed batches only (rows hold several samples): positions restart at 0 per sample, and
    # sample_index says which sample (index into ids / source_index) each position belongs to (-1: pad)
    position_ids: torch.Tensor | None = None  # (rows, length)
    sample_index: torch.Tensor | None = None  # (rows, length)

    def __len__(self) -> int:
        """Samples in the batch (rows, unless packed)."""
        return len(self.ids)

    def sample_lengths(self) -> torch.Tensor:
        """(samples,) real tokens per sample."""
        if self.sample_index is None:
            return self.attention_mask.sum(dim=1)
        index = self.sample_index[self.sample_index >= 0]
        return torch.bincount(index, minlength=len(self)).to(self.attention_mask.device)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move the tensors (Lightning calls this to put a batch on the device)."""
        for name in TENSOR_FIELDS:
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).to(device, non_blocking=non_blocking))
        return self

    def pin_memory(self) -> Batch:
        for name in TENSOR_FIELDS:
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).pin_memory())
        return self


class Collator:
    """Pads to the longest sample (rounded up to ``pad_to_multiple_of``) on the given side.

    With ``pack_length``, samples are instead packed whole into rows of at most that many tokens
    (first-fit decreasing over the micro-batch); the LLM keeps them apart through restarting
    ``position_ids`` (transformers' packed-sequence masks: block-diagonal causal for SDPA/eager,
    variable-length kernels for flash-attention).
    """

    def __init__(self, pad_id: int, source_names: list[str], padding_side: Literal["right", "left"] = "right",
                 pad_to_multiple_of: int = 8, pack_length: int | None = None):
        if pack_length is not None and padding_side != "right":
            raise ValueError("packed batches are right-padded")
        self.pad_id = pad_id
        self.source_names = source_names
        self.padding_side = padding_side
        self.multiple = pad_to_multiple_of
        self.pack_length = pack_length

    def __call__(self, items: list[Sample | Rejected]) -> Batch:
        samples = [item for item in items if isinstance(item, Sample)]
        rejects = [item for item in items if isinstance(item, Rejected)]
        rows = self._pack(samples) if self.pack_length else [[s] for s in samples]
        samples = [s for row in rows for s in row]  # slot order: row-major, then left to right
        length = max((sum(s.input_ids.numel() for s in row) for row in rows), default=0)
        length = -(-length // self.multiple) * self.multiple if length else 0
        n = len(rows)
        input_ids = torch.full((n, length), self.pad_id, dtype=torch.long)
        labels = torch.full((n, length), IGNORE_INDEX, dtype=torch.long)
        slot_kind = torch.full((n, length), TEXT, dtype=torch.uint8)
        attention = torch.zeros((n, length), dtype=torch.long)
        positions = torch.zeros((n, length), dtype=torch.long)
        owner = torch.full((n, length), -1, dtype=torch.long)
        k = 0
        for r, row in enumerate(rows):
            start = 0 if self.padding_side == "right" else length - row[0].input_ids.numel()
            for sample in row:
                size = sample.input_ids.numel()
                cols = slice(start, start + size)
                input_ids[r, cols] = sample.input_ids
                labels[r, cols] = sample.labels
                labels[r, start] = IGNORE_INDEX  # a sample's first token is never predicted from its neighbour
                slot_kind[r, cols] = sample.slot_kind
                attention[r, cols] = 1
                positions[r, cols] = torch.arange(size)
                owner[r, cols] = k
                start, k = start + size, k + 1
        pixels = torch.cat([s.pixels for s in samples]) if samples else torch.empty(0, 3, 1, 1, dtype=torch.uint8)
        packed = self.pack_length is not None
        return Batch(
            input_ids=input_ids, attention_mask=attention, labels=labels, slot_kind=slot_kind, pixels=pixels,
            source_index=torch.tensor([self.source_names.index(s.source) for s in samples], dtype=torch.long),
            sources=self.source_names, ids=[s.id for s in samples], frames=[s.frames for s in samples],
            stats=sample_stats(samples), rejected=dict(Counter(item.source for item in rejects)),
            reject_rows=[item.row for item in rejects],
            position_ids=positions if packed else None, sample_index=owner if packed else None,
        )

    def _pack(self, samples: list[Sample]) -> list[list[Sample]]:
        """First-fit decreasing: longest first, each into the first row it fits (ties keep batch order)."""
        rows: list[list[Sample]] = []
        room: list[int] = []
        for sample in sorted(samples, key=lambda s: -s.input_ids.numel()):
            size = sample.input_ids.numel()
            if size > self.pack_length:
                raise ValueError(f"sample {sample.id} has {size} tokens > the packed row length {self.pack_length}")
            row = next((r for r, free in enumerate(room) if free >= size), None)
            if row is None:
                rows.append([])
                room.append(self.pack_length)
                row = len(rows) - 1
            rows[row].append(sample)
            room[row] -= size
        return rows
