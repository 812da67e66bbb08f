"""Samples as the model receives them, and the dataset that makes them in DataLoader workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from sphinx_x.data.geometry import ImageFrame
from sphinx_x.data.records import Record, RecordError, RejectLog
from sphinx_x.data.slots import TEXT


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
    """A record that failed in a worker; collate counts it, the reject log has its reason."""

    id: str
    source: str
    reason: str


class MixtureDataset(torch.utils.data.Dataset):
    """Records of several sources behind one flat index (source offsets follow ``sources`` order)."""

    def __init__(self, sources: Sequence[tuple[str, list[Record]]], builder: Callable[[Record], Sample],
                 rejects: RejectLog | None = None):
        self.names = [name for name, _ in sources]
        self.records = [record for _, records in sources for record in records]
        self.counts = [len(records) for _, records in sources]
        self.builder = builder
        self.rejects = rejects or RejectLog()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample | Rejected:
        record = self.records[index]
        try:
            return self.builder(record)
        except RecordError as error:
            error.record_id = error.record_id or record["id"]
            self.rejects.add(record["source"], error)
            return Rejected(record["id"], record["source"], error.reason)


def load_image(path: str, record_id: str) -> Image.Image:
    """Decode an image fully now, so that a corrupt file fails here with a countable reason."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError as e:
        raise RecordError("missing_image", str(path), record_id) from e
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise RecordError("unreadable_image", f"{path}: {e}", record_id) from e


def sample_stats(samples: Sequence[Sample]) -> dict[str, Any]:
    """Per-batch visual statistics for logging."""
    tiles = sum(s.num_tiles for s in samples)
    return {"visual_tokens": sum(int((s.slot_kind != TEXT).sum()) for s in samples),
            "tiles": tiles, "skipped_tiles": sum(s.num_skipped for s in samples)}
