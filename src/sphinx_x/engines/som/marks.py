"""What a mark is made of (a box, polygons, a COCO mask, keypoints or a point) and the image it is drawn on.

Masks go through ``pycocotools``: polygons and uncompressed RLE are converted to compressed RLE, which
is what marks keep (JSON-serialisable, so a Record's meta can carry them and a drawing can be redone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from sphinx_x.data.boxes import Box, clip_box

DOMAINS = ("natural", "screen", "text", "document", "multipanel")
KINDS = {"natural": "object", "screen": "UI element", "text": "text", "document": "layout element",
         "multipanel": "panel"}  # what the marks are, in words, per domain


@dataclass
class Mark:
    """One annotated region: ``label`` is its category, text or element name; ``box`` in pixels."""

    label: str
    box: Box
    rle: dict[str, Any] | None = None  # compressed COCO RLE {"size": [h, w], "counts": str}
    keypoints: list[list[float]] = field(default_factory=list)  # visible [x, y]
    point: tuple[float, float] | None = None  # a point mark (the box is a small square around it)

    @property
    def shape(self) -> str:
        """How the mark is drawn: ``mask``, ``keypoints``, ``point`` or ``box``."""
        return "mask" if self.rle else "keypoints" if self.keypoints else "point" if self.point else "box"

    def region(self) -> dict[str, Any]:
        """The Record region naming this mark in text (``<region:K>``): its point, else its box."""
        if self.point is not None:
            return {"image": 0, "point": [round(float(c), 2) for c in self.point]}
        return {"image": 0, "box": [round(float(c), 2) for c in self.box]}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "box": [round(float(c), 2) for c in self.box]}
        if self.rle:
            out["rle"] = self.rle
        if self.keypoints:
            out["keypoints"] = self.keypoints
        if self.point is not None:
            out["point"] = list(self.point)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mark:
        point = data.get("point")
        return cls(str(data["label"]), tuple(data["box"]), data.get("rle"), list(data.get("keypoints", [])),
                   tuple(point) if point else None)  # type: ignore[arg-type]

    def mask(self, width: int, height: int) -> np.ndarray:
        """(height, width) bool: the mask, else the box (keypoints: their person box; point: its square)."""
        if self.rle:
            return mask_utils.decode(_bytes(self.rle)).astype(bool)
        out = np.zeros((height, width), bool)
        x1, y1, x2, y2 = (int(round(c)) for c in clip_box(self.box, width, height))
        out[y1:y2, x1:x2] = True
        return out


@dataclass
class SomItem:
    """One image with its marks, ready to draw: ``ident`` names it in done.jsonl (unique per build)."""

    ident: str
    image: str
    width: int
    height: int
    domain: str
    source: str
    marks: list[Mark]
    caption: str | None = None  # a caption the source itself gives (multipanel questions use it)
    uncountable: list[str] = field(default_factory=list)  # labels with crowd regions: not counted


def polygons_to_rle(polygons: Sequence[Sequence[float]], width: int, height: int) -> dict[str, Any]:
    """COCO polygons (flat ``[x1, y1, x2, y2, ...]`` lists) -> one compressed RLE."""
    rles = mask_utils.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return _jsonable(mask_utils.merge(rles))


def segmentation_to_rle(segmentation: Any, width: int, height: int) -> dict[str, Any] | None:
    """A COCO ``segmentation`` (polygon list, uncompressed or compressed RLE) -> compressed RLE;
    None when it is empty. Raises ValueError on anything else."""
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6]
        if len(polygons) != len(segmentation):
            raise ValueError("polygons need at least 3 points")
        return polygons_to_rle(polygons, width, height) if polygons else None
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        h, w = segmentation["size"]
        if (int(h), int(w)) != (int(height), int(width)):
            raise ValueError(f"RLE size {h}x{w} is not the image's {height}x{width}")
        rle = segmentation
        if isinstance(segmentation["counts"], list):
            rle = mask_utils.frPyObjects(segmentation, int(h), int(w))
        elif isinstance(segmentation["counts"], str):
            rle = {"size": [int(h), int(w)], "counts": segmentation["counts"].encode()}
        return _jsonable(rle)
    raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")


def rle_box(rle: dict[str, Any]) -> Box | None:
    """The mask's bounding box in pixels (None for an empty mask)."""
    x, y, w, h = (float(v) for v in mask_utils.toBbox(_bytes(rle)))
    return (x, y, x + w, y + h) if w > 0 and h > 0 else None


def rle_area(rle: dict[str, Any]) -> float:
    return float(mask_utils.area(_bytes(rle)))


def _bytes(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}


def _jsonable(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.decode() if isinstance(counts, bytes) else counts}
