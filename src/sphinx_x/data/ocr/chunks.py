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
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(costs, dtype=np.float64))])
    longest = [max(1, min(max_units, n - j, int(np.searchsorted(cum, cum[j] + max_cost, side="right")) - 1 - j))
               for j in range(n)]  # units a chunk starting at j may hold
    valid = cover.valid_chunks(arr, max(longest)).tolist()
    fewest = [0] * (n + 1)  # fewest[j]: chunks needed for units j..n-1
    stop = [n] * (n + 1)  # stop[j]: end of the first chunk in that split
    for j in range(n - 1, -1, -1):
        best, end = n + 1, j + 1
        for size in range(1, longest[j] + 1):
            if (size == 1 or valid[j][size - 1]) and fewest[j + size] <= best:
                best, end = fewest[j + size], j + size
        fewest[j], stop[j] = best + 1, end
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

    def valid_chunks(self, units: np.ndarray, longest: int, budget: int = 1 << 21) -> np.ndarray:
        """``(n, longest)``: whether the union box of ``units[j:j + size]`` (``size`` = column + 1)
        covers only those units (and no box past the units, e.g. a hole)."""
        n, m = len(units), len(self.x0)
        pad = np.concatenate([units, np.repeat(units[-1:], longest - 1, axis=0)])
        windows = np.lib.stride_tricks.sliding_window_view(pad, longest, axis=0)  # (n, 4, longest)
        index = np.arange(m)
        size = np.arange(longest)
        out = np.empty((n, longest), dtype=bool)
        step = max(1, budget // max(1, longest * m))
        for a in range(0, n, step):
            w = windows[a:a + step]
            x0, y0 = np.minimum.accumulate(w[:, 0], axis=1), np.minimum.accumulate(w[:, 1], axis=1)
            x1, y1 = np.maximum.accumulate(w[:, 2], axis=1), np.maximum.accumulate(w[:, 3], axis=1)
            iw = np.minimum(self.x1, x1[..., None]) - np.maximum(self.x0, x0[..., None])  # (b, longest, m)
            ih = np.minimum(self.y1, y1[..., None]) - np.maximum(self.y0, y0[..., None])
            np.maximum(iw, 0, out=iw)
            np.maximum(ih, 0, out=ih)
            iw *= ih
            hits = iw > self.limit
            start = np.arange(a, a + len(w))[:, None, None]
            outside = (index < start) | (index >= start + size[None, :, None] + 1)
            out[a:a + len(w)] = ~(hits & outside).any(axis=2)
        return out
