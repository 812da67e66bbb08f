"""Splitting a page's units (lines, blocks) into as few consecutive chunks as fit, each with a box
that holds nothing else, so "the text inside this box" names exactly one sample's units."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sphinx_x.data.boxes import union_box


def exclusive_chunks(boxes: Sequence[Sequence[float]], costs: Sequence[float], max_units: int,
                     max_cost: float, inside: float = 0.5,
                     holes: Sequence[Sequence[float]] = ()) -> list[list[int]]:
    """Split units (given in reading order) into the fewest consecutive chunks for separate samples.

    A chunk holds at most ``max_units`` units and ``max_cost`` total cost, and its union box covers
    (more than ``inside`` of the area) no unit of another chunk and none of ``holes`` (text that no
    sample may contain), so "the text inside this box" names exactly the chunk. A single unit always
    forms a valid chunk (an oversized one is never cut). Among the fewest chunks, earlier chunks are
    as long as possible.
    """
    n = len(boxes)
    if n == 0:
        return []
    arr = np.asarray(boxes, dtype=np.float64).reshape(n, 4)
    cover = _Coverage(np.concatenate([arr, np.asarray(holes, dtype=np.float64).reshape(-1, 4)]), inside)
    if n <= max_units and sum(costs) <= max_cost and cover.only(union_box(arr), 0, n):
        return [list(range(n))]
    fewest = [0] * (n + 1)  # fewest[j]: chunks needed for units j..n-1
    stop = [n] * (n + 1)  # stop[j]: end of the first chunk in that split
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(costs, dtype=np.float64))])
    for j in range(n - 1, -1, -1):
        last = j + 1
        while last < n and last - j < max_units and cum[last + 1] - cum[j] <= max_cost:
            last += 1
        ends = np.arange(j + 1, last + 1)
        valid = cover.only_prefixes(arr, j, ends)
        valid[0] = True
        best = min(fewest[e] for e in ends[valid])
        fewest[j] = best + 1
        stop[j] = int(max(e for e in ends[valid] if fewest[e] == best))
    chunks, j = [], 0
    while j < n:
        chunks.append(list(range(j, stop[j])))
        j = stop[j]
    return chunks


def holds_only(boxes: Sequence[Sequence[float]], box: Sequence[float], members: list[int],
               inside: float = 0.5) -> bool:
    """Whether ``box`` covers (more than ``inside`` of their area) no box outside ``members``."""
    hits = _Coverage(np.asarray(boxes, dtype=np.float64).reshape(len(boxes), 4), inside).hits(box)
    hits[members] = False
    return not hits.any()


class _Coverage:
    """Which boxes a query box covers by more than ``inside`` of their area (vectorised)."""

    def __init__(self, boxes: np.ndarray, inside: float):
        self.x0, self.y0, self.x1, self.y1 = boxes.T.copy()
        self.limit = inside * np.maximum((self.x1 - self.x0) * (self.y1 - self.y0), 1e-9)

    def hits(self, box: Sequence[float]) -> np.ndarray:
        iw = np.minimum(self.x1, box[2]) - np.maximum(self.x0, box[0])
        ih = np.minimum(self.y1, box[3]) - np.maximum(self.y0, box[1])
        return (iw > 0) & (ih > 0) & (iw * ih > self.limit)

    def only(self, box: Sequence[float], start: int, stop: int) -> bool:
        """True when every covered box lies in ``start:stop``."""
        hits = self.hits(box)
        return not (hits[:start].any() or hits[stop:].any())

    def only_prefixes(self, units: np.ndarray, start: int, ends: np.ndarray) -> np.ndarray:
        """For each ``end``: whether the union box of ``units[start:end]`` covers only those units."""
        span = units[start:ends[-1]]
        x0, y0 = np.minimum.accumulate(span[:, 0]), np.minimum.accumulate(span[:, 1])
        x1, y1 = np.maximum.accumulate(span[:, 2]), np.maximum.accumulate(span[:, 3])
        rows = ends - start - 1  # (k,) union boxes of the prefixes
        iw = np.minimum(self.x1[None], x1[rows, None]) - np.maximum(self.x0[None], x0[rows, None])
        ih = np.minimum(self.y1[None], y1[rows, None]) - np.maximum(self.y0[None], y0[rows, None])
        hits = (iw > 0) & (ih > 0) & (iw * ih > self.limit[None])  # (k, units + holes)
        index = np.arange(hits.shape[1])[None]
        outside = (index < start) | (index >= ends[:, None])
        return ~(hits & outside).any(axis=1)
