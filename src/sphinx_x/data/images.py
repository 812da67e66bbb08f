"""Opening images from untrusted files: the size is read from the header before anything is decoded,
so a decompression bomb or a corrupt file is a countable reject, and the reason says which it was.

Reasons: ``bad_image_path`` (not a path), ``missing_image`` (no such file), ``image_too_large``
(more pixels than the limit, read from the header; also PIL's own decompression-bomb check),
``unreadable_image`` (the file exists but does not decode).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from sphinx_x.data.records import RecordError, short_repr

# PIL's own warning threshold (about 89.5 megapixels); data.max_image_pixels sets the training limit.
# PIL refuses twice its Image.MAX_IMAGE_PIXELS on its own, so a larger limit also needs that raised.
DEFAULT_MAX_PIXELS = 89_478_485


def header_size(path: Any, record_id: str | None) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    with _opened(path, record_id, None) as image:
        return image.size


def load_image(path: Any, record_id: str | None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode an RGB image fully now, so a bad file fails here with a countable reason; an image with
    more than ``max_pixels`` pixels (None: no limit) is refused from its header, before decoding."""
    with _opened(path, record_id, max_pixels) as image:
        try:
            image.load()
            return image.convert("RGB")
        except Image.DecompressionBombError as e:
            raise RecordError("image_too_large", f"{path}: {e}", record_id) from None
        except Exception as e:  # decoders of untrusted bytes raise many kinds (OSError, SyntaxError, struct.error)
            raise RecordError("unreadable_image", f"{path}: {type(e).__name__}: {short_repr(str(e), 200)}",
                              record_id) from None


@contextmanager
def _opened(path: Any, record_id: str | None, max_pixels: int | None) -> Iterator[Image.Image]:
    """``Image.open`` whose failures are RecordErrors with the right reason (the header only)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise RecordError("bad_image_path", f"not a file path: {short_repr(path)}", record_id)
    if not os.path.isfile(path):
        raise RecordError("missing_image", str(path), record_id)
    try:
        image = Image.open(path)
    except FileNotFoundError:
        raise RecordError("missing_image", str(path), record_id) from None
    except Image.DecompressionBombError as e:
        raise RecordError("image_too_large", f"{path}: {e}", record_id) from None
    except Exception as e:
        raise RecordError("unreadable_image", f"{path}: {type(e).__name__}: {short_repr(str(e), 200)}",
                          record_id) from None
    with image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise RecordError("image_too_large", f"{path}: {width}x{height} = {width * height} pixels, "
                                                 f"over data.max_image_pixels={max_pixels}", record_id)
        yield image
