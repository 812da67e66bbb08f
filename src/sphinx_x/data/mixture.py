"""Weighted mixture of sources: weights, and a deterministic, resumable, rank-aware sampler."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from sphinx_x.data.bucketing import bucket_order

WEIGHTINGS = ("size", "explicit", "temperature")


def mixture_weights(sizes: Sequence[int], explicit: Sequence[float | None], weighting: str = "size",
                    temperature: float = 1.0) -> np.ndarray:
    """Normalised sampling probability per source.

    ``size``: proportional to size; ``explicit``: the given weights (a source without one falls
    back to its size share); ``temperature``: proportional to ``size ** (1 / temperature)``.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"data.weighting: must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    if (sizes_arr <= 0).any():
        raise ValueError("every source needs at least one record (or a positive size)")
    if weighting == "temperature":
        if temperature <= 0:
            raise ValueError(f"data.temperature: must be > 0, got {temperature}")
        raw = sizes_arr ** (1.0 / temperature)
    elif weighting == "explicit":
        share = sizes_arr / sizes_arr.sum()
        raw = np.array([w if w is not None else s for w, s in zip(explicit, share, strict=True)], dtype=np.float64)
    else:
        raw = sizes_arr
    if (raw < 0).any() or raw.sum() <= 0:
        raise ValueError(f"mixture weights must be non-negative with a positive sum, got {raw.tolist()}")
    return raw / raw.sum()


def source_quotas(weights: Sequence[float], num_samples: int) -> np.ndarray:
    """Draws per source in one epoch: ``weight * num_samples`` rounded by largest remainder (sums exactly)."""
    exact = np.asarray(weights, dtype=np.float64) * num_samples
    quotas = np.floor(exact).astype(np.int64)
    short = num_samples - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:short]] += 1
    return quotas


class MixtureSampler(torch.utils.data.Sampler[int]):
    """Yields indices into the concatenation of sources, drawn by weight.

    An epoch is ``num_samples`` draws: each source gets its exact quota (:func:`source_quotas`) in a
    shuffled order, and its records are drawn without replacement (a source drawn more often than it
    has records starts a new pass). The sequence depends only on ``(seed, epoch)``; each rank
    takes every ``world_size``-th draw. ``consumed`` (global draws already trained on) lets a
    resumed run continue the same sequence mid-epoch. With ``lengths`` (estimated tokens per flat
    index) and ``micro_batch_size``, the epoch is reordered by :func:`bucket_order` so micro-batches
    hold similar lengths (still a fixed permutation of the same draws).
    """

    def __init__(self, counts: Sequence[int], weights: Sequence[float], num_samples: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1, lengths: Sequence[int] | None = None,
                 micro_batch_size: int = 1):
        if len(counts) != len(weights):
            raise ValueError("one weight per source")
        if num_samples < world_size:
            raise ValueError(f"data.num_samples ({num_samples}) must be >= the number of ranks ({world_size})")
        self.counts = list(counts)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.num_samples = num_samples
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.consumed = 0
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.micro_batch_size = micro_batch_size

    def global_sequence(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(source id, index within source) for every draw of ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch])
        sources = rng.permutation(np.repeat(np.arange(len(self.counts)), source_quotas(self.weights, self.num_samples)))
        items = np.empty(self.num_samples, dtype=np.int64)
        for s, count in enumerate(self.counts):
            where = np.flatnonzero(sources == s)
            passes = -(-len(where) // count) if len(where) else 0
            order = np.concatenate([rng.permutation(count) for _ in range(passes)]) if passes else np.empty(0, int)
            items[where] = order[: len(where)]
        return sources, items

    def epoch_draws(self) -> np.ndarray:
        """Flat indices of the current epoch's draws, all ranks, in training order."""
        sources, items = self.global_sequence(self.epoch)
        flat = self.offsets[sources] + items
        if self.lengths is not None:
            flat = bucket_order(flat, self.lengths[flat], self.micro_batch_size * self.world_size,
                                seed=(self.seed, self.epoch, 1))
        return flat

    def __iter__(self) -> Iterator[int]:
        start = self.consumed - self.consumed % self.world_size
        return iter(self.epoch_draws()[start + self.rank :: self.world_size].tolist())

    def __len__(self) -> int:
        """The whole epoch's draws for this rank, also when resumed mid-epoch (iteration then yields only
        the rest): Lightning counts the epoch's batches from its restored progress up to this length, so
        the remaining count here would end a resumed epoch early and skip its last draws."""
        return len(range(self.rank, self.num_samples, self.world_size))

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.consumed = epoch, 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed, "num_samples": self.num_samples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("seed", self.seed) != self.seed or state.get("num_samples", self.num_samples) != self.num_samples:
            raise ValueError("sampler state was saved with another data.seed / data.num_samples")
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])
