"""The size of a dataset's image, as its annotation declares it or as its file header says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sphinx_x.data.images import header_size
from sphinx_x.data.records import RecordError
from sphinx_x.data.sources.values import number


def image_size(rid: str, file: str | None = None, declared: Mapping[str, Any] | None = None) -> tuple[float, float]:
    """(width, height) in pixels: ``declared`` by an annotation entry (its ``width`` and ``height``) when
    it has a ``width`` or there is no ``file``, else read from the header of ``file`` (never decoded).

    A declared size must be two positive finite numbers (``missing_field`` / ``bad_image_size``); a
    missing file is ``missing_image``, one whose header cannot be read ``unreadable_image``.
    """
    if declared is not None and ("width" in declared or file is None):
        return _declared(declared, rid)
    if file is None:
        raise ValueError("image_size needs a file or a declared size")
    return header_size(file, rid)


def _declared(entry: Mapping[str, Any], rid: str) -> tuple[float, float]:
    if entry.get("width") is None or entry.get("height") is None:
        raise RecordError("missing_field", "image width/height", rid)
    width, height = (number(entry[key], f"image {key}", rid, reason="bad_image_size") for key in ("width", "height"))
    if not width > 0 or not height > 0:
        raise RecordError("bad_image_size", f"{width}x{height}", rid)
    return width, height
