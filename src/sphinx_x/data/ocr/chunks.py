"""Splitting a page's units (lines, blocks) into consecutive chunks whose box holds nothing else,
so "the text inside this box" names exactly one sample's units."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sphinx_x.data.boxes import union_box


def exclusive_chunks(boxes: Sequence[Sequence[float]], costs: Sequence[float], max_units: int,
                     max_cost: float, inside: float = 0.5) -> list[list[int]]:
    """Split units (given in reading order) into consecutive chunks for separate samples.

    A chunk holds at most ``max_units`` units and ``max_cost`` total cost, and its union box holds
    no unit of another chunk (more than ``inside`` of that unit's area), so "the text inside this
    box" names exactly the chunk. A single unit over ``max_cost`` forms its own chunk (never cut).
    """
    n = len(boxes)
    if n == 0:
        return []
    if n <= max_units and sum(costs) <= max_cost:
        return [list(range(n))]
    covered = _Coverage(boxes, inside)
    chunks: list[list[int]] = []
    start, cost = 0, costs[0]
    box = tuple(boxes[0])
    for i in range(1, n):
        grown = union_box([box, boxes[i]])
        if i - start < max_units and cost + costs[i] <= max_cost and covered.only(grown, start, i + 1):
            box, cost = grown, cost + costs[i]
            continue
        chunks.append(list(range(start, i)))
        start, cost, box = i, costs[i], tuple(boxes[i])
    chunks.append(list(range(start, n)))
    return chunks


def holds_only(boxes: Sequence[Sequence[float]], box: Sequence[float], members: list[int],
               inside: float = 0.5) -> bool:
    """Whether ``box`` covers (more than ``inside`` of their area) no box outside ``members``."""
    hits = _Coverage(boxes, inside).hits(box)
    hits[members] = False
    return not hits.any()


class _Coverage:
    """Which boxes a query box covers by more than ``inside`` of their area (vectorised)."""

    def __init__(self, boxes: Sequence[Sequence[float]], inside: float):
        arr = np.asarray(boxes, dtype=np.float64).reshape(len(boxes), 4)
        self.x0, self.y0, self.x1, self.y1 = arr.T.copy()
        self.limit = inside * np.maximum((self.x1 - self.x0) * (self.y1 - self.y0), 1e-9)

    def hits(self, box: Sequence[float]) -> np.ndarray:
        iw = np.minimum(self.x1, box[2]) - np.maximum(self.x0, box[0])
        ih = np.minimum(self.y1, box[3]) - np.maximum(self.y0, box[1])
        return (iw > 0) & (ih > 0) & (iw * ih > self.limit)

    def only(self, box: Sequence[float], start: int, stop: int) -> bool:
        """True when every covered box lies in ``start:stop``."""
        hits = self.hits(box)
        return not (hits[:start].any() or hits[stop:].any())
