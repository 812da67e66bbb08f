"""Samples as the model receives them, and the dataset that makes them in DataLoader workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from sphinx_x.data.geometry import ImageFrame
from sphinx_x.data.images import load_image
from sphinx_x.data.records import Record, RecordError, RejectLog
from sphinx_x.data.slots import TEXT

__all__ = ["MixtureDataset", "Rejected", "Sample", "load_image", "sample_stats"]


@dataclass
class Sample:
    """One tokenised sample with its visual inputs, ready for collation."""

    id: str
    source: str
    input_ids: torch.Tensor  # (length,)
    labels: torch.Tensor  # (length,)
    slot_kind: torch.Tensor  # (length,)
    pixels: torch.Tensor  # (kept tile groups, 3, P, P) uint8, in slot order
    frames: list[ImageFrame]
    num_tiles: int  # tile groups incl. skipped ones
    num_skipped: int


@dataclass
class Rejected:
    """A record that failed in a worker; it is counted (and written) where its batch is consumed."""

    id: str
    source: str
    reason: str
    row: dict[str, Any] = field(default_factory=dict)  # the rejects-file row (see RejectLog.row)


class MixtureDataset(torch.utils.data.Dataset):
    """Records of several sources behind one flat index (source offsets follow ``sources`` order).

    A record that fails to build is returned as :class:`Rejected` (raised when ``strict``); nothing is
    counted here, since a DataLoader prefetches draws that may never be trained on.
    """

    def __init__(self, sources: Sequence[tuple[str, list[Record]]], builder: Callable[[Record], Sample],
                 strict: bool = False, files: dict[str, str] | None = None):
        self.names = [name for name, _ in sources]
        self.records = [record for _, records in sources for record in records]
        self.counts = [len(records) for _, records in sources]
        self.builder = builder
        self.strict = strict
        self.files = files or {}  # source -> its annotation file's name, for reject ids

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample | Rejected:
        record = self.records[index]
        try:
            return self.builder(record)
        except RecordError as error:
            error.record_id = error.record_id or record["id"]
            if self.strict:
                raise
            source = record["source"]
            row = RejectLog.row(source, error, self.files.get(source, source), "")
            return Rejected(record["id"], source, error.reason, row)


def sample_stats(samples: Sequence[Sample]) -> dict[str, Any]:
    """Per-batch visual statistics for logging."""
    tiles = sum(s.num_tiles for s in samples)
    return {"visual_tokens": sum(int((s.slot_kind != TEXT).sum()) for s in samples),
            "tiles": tiles, "skipped_tiles": sum(s.num_skipped for s in samples)}
