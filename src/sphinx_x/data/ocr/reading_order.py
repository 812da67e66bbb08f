"""Reading order of the boxes on a page: recursive XY-cut for documents, rows for scene text."""

from __future__ import annotations

from collections.abc import Sequence


def reading_order(boxes: Sequence[Sequence[float]], min_gap: float = 0.5) -> list[int]:
    """Indices of ``boxes`` in reading order by recursive XY-cut.

    At each level the region is cut at its single widest empty gap, vertical (between columns,
    read left to right) or horizontal (read top to bottom); a region with no gap is read top to
    bottom, left to right. Cutting at the widest gap keeps two-column text column by column while
    a spanning title or figure still splits the page into bands.
    """
    order: list[int] = []
    _xy_cut(list(range(len(boxes))), boxes, min_gap, order)
    return order


def row_order(boxes: Sequence[Sequence[float]]) -> list[int]:
    """Indices in row order: boxes whose vertical centre falls within a row's first box form that
    row (rows top to bottom), read left to right. Suits scene text, which has no columns."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3], boxes[i][0])):
        centre = (boxes[i][1] + boxes[i][3]) / 2
        if rows and boxes[rows[-1][0]][1] <= centre <= boxes[rows[-1][0]][3]:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]


def _xy_cut(idx: list[int], boxes: Sequence[Sequence[float]], min_gap: float, out: list[int]) -> None:
    while True:
        if len(idx) <= 1:
            out.extend(idx)
            return
        gap_x = _widest_gap(idx, boxes, 0)
        gap_y = _widest_gap(idx, boxes, 1)
        best = max((g for g in (gap_x, gap_y) if g[0] > min_gap), default=None, key=lambda g: g[0])
        if best is None:
            out.extend(sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0])))
            return
        _, axis, cut = best
        first = [i for i in idx if boxes[i][axis] < cut]
        rest = [i for i in idx if boxes[i][axis] >= cut]
        _xy_cut(first, boxes, min_gap, out)
        idx = rest


def _widest_gap(idx: list[int], boxes: Sequence[Sequence[float]], axis: int) -> tuple[float, int, float]:
    """(gap size, axis, cut position) of the widest empty band between the boxes along ``axis``."""
    spans = sorted((boxes[i][axis], boxes[i][axis + 2]) for i in idx)
    best = (0.0, axis, 0.0)
    end = spans[0][1]
    for start, stop in spans[1:]:
        if start - end > best[0]:
            best = (start - end, axis, (start + end) / 2)
        end = max(end, stop)
    return best
