"""Rendered pages encoded as PNG: greyscale when every pixel is grey, lossless either way."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sphinx_x.engines.ocr.render import encode_png


@pytest.mark.parametrize("grey", [True, False])
def test_png_round_trip(grey: bool) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    if grey:
        pixels[:] = pixels[:, :, :1]
    image = Image.open(io.BytesIO(encode_png(pixels.tobytes(), 5, 7, 3)))
    assert image.mode == ("L" if grey else "RGB") and image.size == (5, 7)
    assert np.array_equal(np.asarray(image.convert("RGB")), pixels)
