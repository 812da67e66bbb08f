"""Boxes read from annotation files, checked and clipped to the image: a box that cannot be trained on
is a countable :class:`~sphinx_x.data.records.RecordError`, never a crash or a silently wrong region."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sphinx_x.data.boxes import Box, clip_box
from sphinx_x.data.records import RecordError


def checked_box(box: Sequence[Any], size: tuple[float, float], rid: str, tolerance: float | None = None,
                decimals: int | None = None) -> Box:
    """``[x1, y1, x2, y2]`` clipped to the (width, height) image and rounded to ``decimals`` when given.

    Coordinates that are not finite numbers are ``bad_box``; with ``tolerance``, a box reaching more
    than that many pixels outside the image is ``box_outside_image`` (the annotation does not belong
    to this image); a box empty after clipping is ``degenerate_box``.
    """
    width, height = size
    x1, y1, x2, y2 = coords = [_number(c, rid) for c in box]
    where = f"{[round(c, 2) for c in coords]} in a {width}x{height} image"
    if tolerance is not None and (x1 < -tolerance or y1 < -tolerance or x2 > width + tolerance
                                  or y2 > height + tolerance):
        raise RecordError("box_outside_image", where, rid)
    clipped = clip_box(coords, width, height, decimals)
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise RecordError("degenerate_box", where, rid)
    return clipped


def box_from_xywh(bbox: Any, size: tuple[float, float], rid: str) -> Box:
    """COCO-style ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` clipped to the image, rounded to 0.01 px."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise RecordError("bad_box", f"expected [x, y, w, h], got {bbox!r}", rid)
    x, y, w, h = (_number(c, rid) for c in bbox)
    return checked_box([x, y, x + w, y + h], size, rid, decimals=2)


def _number(value: Any, rid: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise RecordError("bad_box", f"not a number: {value!r}", rid) from e
    if number != number or number in (float("inf"), float("-inf")):
        raise RecordError("bad_box", f"not finite: {value!r}", rid)
    return number
