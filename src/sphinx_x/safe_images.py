"""Decoding images from people you do not control (the server's requests, the chat's ``/image``).

The format and size are read from the header first: formats other than :data:`ALLOWED_FORMATS` and
images with more than ``max_pixels`` pixels are refused before a byte of pixel data is decoded, so a
23 KB PNG that claims 12000x12000 costs nothing. Messages never echo library object reprs.
(Training data goes through :func:`sphinx_x.data.images.load_image`, with its own reject reasons.)
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image

# The common web formats; the rest (EPS runs Ghostscript, exotic decoders) are refused from the header.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
DEFAULT_MAX_PIXELS = 16_777_216  # 4096 x 4096; the models see at most a few megapixels after tiling
MIN_SIDE = 1


class ImageRejected(ValueError):
    """An image refused before or while decoding; ``reason``: too_large, bad_format or unreadable."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def set_pil_pixel_limit(max_pixels: int) -> None:
    """Set PIL's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) for this process.

    PIL warns above it and refuses above twice it; the explicit header check in :func:`decode_image`
    is what refuses, this is the second line for anything else in the process that opens images.
    """
    Image.MAX_IMAGE_PIXELS = int(max_pixels)


def image_header(source: bytes | str | os.PathLike[str] | BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS,
                 name: str = "image") -> tuple[int, int]:
    """(width, height) from the header, with the same refusals as :func:`decode_image`; nothing is decoded."""
    with _opened(source, max_pixels, name) as image:
        return image.size


def decode_image(source: bytes | str | os.PathLike[str] | BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS,
                 name: str = "image") -> Image.Image:
    """An RGB image from bytes, a path or a binary file; :class:`ImageRejected` with a clear message when
    its format is not allowed, its header gives more than ``max_pixels`` pixels, or it does not decode."""
    with _opened(source, max_pixels, name) as image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                return image.convert("RGB")
        except Image.DecompressionBombError:
            raise ImageRejected("too_large", f"{name}: image too large for PIL's pixel limit") from None
        except Exception:
            raise ImageRejected("unreadable", f"{name}: not a readable image (truncated or corrupt "
                                              f"{image.format} data)") from None


@contextmanager
def _opened(source: bytes | str | os.PathLike[str] | BinaryIO, max_pixels: int, name: str) -> Iterator[Image.Image]:
    """The image with only its header read, refused for format or size."""
    stream: BinaryIO | str | os.PathLike[str] = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as error:  # PIL's own check, before ours: its message holds the size
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{found.group(1)} pixels" if found else f"more than {2 * Image.MAX_IMAGE_PIXELS} pixels"
        raise ImageRejected("too_large", f"{name}: image too large: {size}, the limit is {max_pixels}") from None
    except Image.UnidentifiedImageError:
        raise ImageRejected("bad_format", f"{name}: not a readable image (allowed formats: "
                                          f"{', '.join(ALLOWED_FORMATS)})") from None
    except OSError as error:
        raise ImageRejected("unreadable", f"{name}: cannot be read ({_os_reason(error)})") from None
    except Exception:  # decoders of untrusted bytes raise many kinds (SyntaxError, struct.error, ...)
        raise ImageRejected("unreadable", f"{name}: not a readable image (corrupt header)") from None
    with image:
        width, height = image.size
        if width < MIN_SIDE or height < MIN_SIDE:
            raise ImageRejected("unreadable", f"{name}: image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageRejected("too_large", f"{name}: image too large: {width}x{height} = {width * height} "
                                             f"pixels, the limit is {max_pixels}")
        yield image


def _os_reason(error: OSError) -> str:
    """``strerror`` only (no paths or object reprs)."""
    return error.strerror or type(error).__name__


def read_local_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """A local image file for someone at this machine (the chat): the path is named in errors."""
    return decode_image(Path(path), max_pixels, name=str(path))
