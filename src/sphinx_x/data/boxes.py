"""Axis-aligned pixel boxes ``(x1, y1, x2, y2)``: union, affine transform and clipping to an image.

Plain geometry shared by the readers and the engines; validating boxes read from annotation files
(with countable rejects) is :mod:`sphinx_x.data.sources.checked_boxes`.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]


def union_box(boxes: Sequence[Sequence[float]]) -> Box:
    """The smallest box holding every box in ``boxes`` (which must not be empty)."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def transform_box(box: Sequence[float], m: Sequence[float]) -> Box:
    """Map an axis-aligned box through the affine matrix ``(a, b, c, d, e, f)`` (90-degree rotations
    and scales keep boxes axis-aligned, so two opposite corners are enough)."""
    a, b, c, d, e, f = m
    xa, ya = box[0] * a + box[1] * c + e, box[0] * b + box[1] * d + f
    xb, yb = box[2] * a + box[3] * c + e, box[2] * b + box[3] * d + f
    return (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))


def clip_box(box: Sequence[float], width: float, height: float, decimals: int | None = None) -> Box:
    """``box`` clamped to the ``width`` x ``height`` image (it may come out empty), rounded to
    ``decimals`` places when given."""
    clipped = (min(max(box[0], 0.0), width), min(max(box[1], 0.0), height),
               min(max(box[2], 0.0), width), min(max(box[3], 0.0), height))
    if decimals is None:
        return clipped
    return tuple(round(v, decimals) for v in clipped)  # type: ignore[return-value]
