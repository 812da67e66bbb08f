"""The size of a dataset's image, as its annotation declares it or as its file header says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

from sphinx_x.data.records import RecordError


def image_size(rid: str, file: str | None = None, declared: Mapping[str, Any] | None = None) -> tuple[float, float]:
    """(width, height) in pixels: ``declared`` by an annotation entry (its ``width`` and ``height``) when
    it has a ``width`` or there is no ``file``, else read from the header of ``file``.

    A declared size must be two positive numbers (``missing_field`` / ``bad_image_size``); a missing
    file is ``missing_image`` and one that cannot be read ``unreadable_image``.
    """
    if declared is not None and ("width" in declared or file is None):
        return _declared(declared, rid)
    if file is None:
        raise ValueError("image_size needs a file or a declared size")
    try:
        with Image.open(file) as image:
            return image.size
    except FileNotFoundError:
        raise RecordError("missing_image", file, rid) from None
    except (OSError, ValueError) as e:
        raise RecordError("unreadable_image", f"{file}: {e}", rid) from None


def _declared(entry: Mapping[str, Any], rid: str) -> tuple[float, float]:
    try:
        width, height = (value if isinstance(value, (int, float)) else float(value)
                         for value in (entry["width"], entry["height"]))
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError("missing_field", "image width/height", rid) from e
    if not width > 0 or not height > 0:
        raise RecordError("bad_image_size", f"{width}x{height}", rid)
    return width, height
