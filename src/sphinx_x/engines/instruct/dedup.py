"""Image dedup by difference hash (dHash): a re-encoded, resized or recompressed copy of an image gets the
same 64-bit hash, so the engine asks about each picture once."""

from __future__ import annotations

import numpy as np
from PIL import Image


def dhash(image: Image.Image, size: int = 8) -> str:
    """Hex of ``size * size`` bits: is each pixel of a (size + 1) x size grey thumbnail brighter than its
    right neighbour."""
    grey = np.asarray(image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{size * size // 4}x}"
