"""Read LLaMA2-Accessory model-parallel shards and merge them the way the authors split them.

A checkpoint folder holds ``consolidated.NN-of-MM.model.pth``, one file per model-parallel rank, each
``{"model": state_dict}`` (accessory/util/misc.py:350-363). Their loader merges ranks by the layer
type that holds each weight (accessory/util/tensor_parallel.py:34-38, 83-130):
``ColumnParallelLinear`` weights are split on dim 0, ``RowParallelLinear`` weights on dim 1,
``ParallelEmbedding`` weights on dim 1, the sparse MoE experts per expert on their hidden dim
(mixtral_sparse_ens.py:214-223), and every other tensor is replicated on all ranks.
"""

from __future__ import annotations

import pickle
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

SHARD_PATTERN = re.compile(r"^consolidated\.(\d{2})-of-(\d{2})\.model\.pth$")
Split = Literal["column", "row", "embedding", "experts", "replicated"]
SPLITS: tuple[str, ...] = ("column", "row", "embedding", "experts", "replicated")


def shard_files(src: str | Path) -> list[Path]:
    """The ``consolidated.NN-of-MM.model.pth`` files of ``src`` in rank order, checked complete."""
    folder = Path(src)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder (a LLaMA2-Accessory checkpoint folder)")
    found = {p.name: SHARD_PATTERN.match(p.name) for p in folder.iterdir() if p.is_file()}
    matches = {name: m for name, m in found.items() if m}
    if not matches:
        raise FileNotFoundError(f"{folder} has no consolidated.NN-of-MM.model.pth files (the authors' "
                                f"checkpoint format); it holds {sorted(found)[:8]}")
    totals = {int(m.group(2)) for m in matches.values()}
    if len(totals) != 1:
        raise ValueError(f"{folder}: shards of different model-parallel sizes {sorted(totals)}: {sorted(matches)}")
    total = totals.pop()
    expected = [f"consolidated.{rank:02d}-of-{total:02d}.model.pth" for rank in range(total)]
    missing = [name for name in expected if name not in matches]
    if missing:
        raise FileNotFoundError(f"{folder}: model-parallel shards missing: {missing}")
    return [folder / name for name in expected]


def load_shard(path: Path) -> dict[str, torch.Tensor]:
    """One rank's state dict: tensors only (``weights_only`` loading, memory-mapped)."""
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # an old (non-zip) file cannot be memory-mapped
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(f"{path}: refused: it holds more than tensors, and only weights are read "
                         f"(torch.load weights_only): {str(error).splitlines()[0]}") from error
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict (or {{'model': state dict}}), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: entries that are not tensors: {bad[:5]}")
    return obj


@dataclass
class MergeReport:
    shards: int
    unequal_replicas: list[str] = field(default_factory=list)  # the authors' loader warns and keeps rank 0's


def merge_shards(shards: Sequence[dict[str, torch.Tensor]], split_of: Callable[[str], Split],
                 num_experts: int | None = None) -> tuple[dict[str, torch.Tensor], MergeReport]:
    """One full state dict from the ranks' state dicts, each key merged by ``split_of(key)``."""
    report = MergeReport(len(shards))
    keys = list(dict.fromkeys(k for shard in shards for k in shard))
    merged: dict[str, torch.Tensor] = {}
    for key in keys:
        holders = [rank for rank, shard in enumerate(shards) if key in shard]
        if len(holders) != len(shards):
            raise ValueError(f"{key} is in model-parallel shards {holders} but not in all {len(shards)}")
        parts = [shard[key] for shard in shards]
        merged[key] = _merge(key, parts, split_of(key), num_experts, report)
    return merged, report


def _merge(key: str, parts: list[torch.Tensor], split: Split, num_experts: int | None,
           report: MergeReport) -> torch.Tensor:
    if len(parts) == 1:
        return parts[0]
    if split == "column":
        return torch.cat(parts, dim=0)
    if split in ("row", "embedding"):
        return torch.cat(parts, dim=1)
    if split == "experts":
        if not num_experts:
            raise ValueError(f"{key}: merging MoE experts needs the number of experts")
        stacked = [p.reshape(num_experts, -1, p.shape[-1]) for p in parts]  # each (experts, hidden/ranks, dim)
        return torch.cat(stacked, dim=1).reshape(-1, parts[0].shape[-1])  # (experts * hidden, dim)
    if split == "replicated":
        first = parts[0]
        if any(p.shape != first.shape or not torch.equal(p, first) for p in parts[1:]):
            report.unequal_replicas.append(key)
            print(f"warning: replicas of {key} differ across model-parallel shards; keeping rank 0's "
                  "(as the authors' loader does)", file=sys.stderr)
        return first
    raise ValueError(f"{key}: unknown split {split!r}, expected one of {list(SPLITS)}")


def split_rules(rules: Sequence[tuple[str, Split]]) -> Callable[[str], Split]:
    """``split_of(key)`` from (regex, split) pairs; keys matching none are replicated."""
    compiled = [(re.compile(pattern), split) for pattern, split in rules]

    def split_of(key: str) -> Split:
        for pattern, split in compiled:
            if pattern.fullmatch(key):
                return split
        return "replicated"

    return split_of
