"""Token-budget micro-batches for packing (``data.max_tokens_per_batch``).

The epoch's draws (the mixture sequence of :class:`~sphinx_x.data.mixture.MixtureSampler`, all ranks
together) are cut into shuffle buffers of ``buffer`` draws. In each buffer a first-fit decreasing pass
packs the draws' estimated lengths into rows of ``max_length`` tokens; the rows are dealt in turn to
micro-batches of ``max_tokens // max_length`` rows (so each mixes long and short samples); the buffer's
micro-batches are shuffled and dealt to the ranks in turn. The plan depends only on the draws, their estimated lengths and the seed, so it is deterministic,
and a resumed run skips the micro-batches it already trained (``consumed_batches`` per rank).

Lengths are estimates (:func:`~sphinx_x.data.bucketing.estimated_length`): the collator packs the real
tokens into rows of ``max_length`` again, so a micro-batch may hold a row more or less than planned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from sphinx_x.data.mixture import MixtureSampler

log = logging.getLogger(__name__)


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Positions of ``lengths`` packed into bins of ``capacity`` (longest first, each into the first bin
    with room); a length above ``capacity`` gets a bin of its own (the collator cuts nothing: such a
    sample was already cut to ``max_length`` when tokenised)."""
    bins: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: (-lengths[k], k)):
        size = min(int(lengths[i]), capacity)
        for b, free in enumerate(room):
            if size <= free:
                bins[b].append(i)
                room[b] -= size
                break
        else:
            bins.append([i])
            room.append(capacity - size)
    return bins


def plan_micro_batches(draws: np.ndarray, lengths: np.ndarray, max_length: int, rows_per_batch: int,
                       buffer: int, seed: Sequence[int]) -> list[list[int]]:
    """The epoch's micro-batches (lists of draws) in training order, all ranks together."""
    rng = np.random.default_rng(list(seed))
    batches: list[list[int]] = []
    for start in range(0, len(draws), buffer):
        window = draws[start:start + buffer]
        rows = first_fit_decreasing(lengths[start:start + buffer].tolist(), max_length)
        count = -(-len(rows) // rows_per_batch)
        # rows dealt in turn (batch b: rows b, b + count, ...): FFD makes the first rows the longest
        # samples' and the last ones short fillers only, and batches of one kind train worse
        planned = [[int(window[i]) for row in rows[b::count] for i in row] for b in range(count)]
        batches.extend(planned[k] for k in rng.permutation(len(planned)))
    return batches


class TokenBudgetBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Micro-batches of whole samples filling ``max_tokens`` (rows of ``max_length``), for this rank.

    ``lengths`` are the estimated tokens of every flat index of the mixture. The last micro-batches of an
    epoch that do not make one for every rank are left out (logged with their draw count).
    """

    def __init__(self, mixture: MixtureSampler, lengths: Sequence[int], max_length: int, max_tokens: int,
                 buffer: int):
        if max_tokens < max_length:
            raise ValueError(f"data.max_tokens_per_batch: {max_tokens} is less than one row of "
                             f"data.max_length = {max_length} tokens")
        if buffer < 1:
            raise ValueError(f"data.packing_buffer: must be >= 1, got {buffer}")
        self.mixture = mixture
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.max_length, self.rows_per_batch, self.buffer = max_length, max_tokens // max_length, buffer
        self.consumed_batches = 0
        self._plan: tuple[int, list[list[int]]] | None = None

    def epoch_plan(self) -> list[list[int]]:
        """This epoch's micro-batches, all ranks, truncated to a multiple of the number of ranks."""
        epoch, ranks = self.mixture.epoch, self.mixture.world_size
        if self._plan is None or self._plan[0] != epoch:
            draws = self.mixture.epoch_draws()
            plan = plan_micro_batches(draws, self.lengths[draws], self.max_length, self.rows_per_batch,
                                      self.buffer, seed=(self.mixture.seed, epoch, 2))
            kept = len(plan) - len(plan) % ranks
            if kept < len(plan):
                log.info("epoch %d: the last %d micro-batches (%d draws) make no round for all %d ranks; left out",
                         epoch, len(plan) - kept, sum(len(b) for b in plan[kept:]), ranks)
            self._plan = (epoch, plan[:kept])
        return self._plan[1]

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.epoch_plan()[self.mixture.rank::self.mixture.world_size]
        return iter(mine[self.consumed_batches:])

    def __len__(self) -> int:
        """The whole epoch's micro-batches for this rank (see :meth:`MixtureSampler.__len__`)."""
        return len(self.epoch_plan()) // self.mixture.world_size

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.mixture.epoch:
            self.consumed_batches = 0
        self.mixture.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {**self.mixture.state_dict(), "consumed_batches": self.consumed_batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mixture.load_state_dict(state)
        self.consumed_batches = int(state.get("consumed_batches", 0))
