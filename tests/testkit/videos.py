"""Small real video files written with PyAV: frame k is filled with a colour that encodes k, so a test
can tell which frames were sampled from the pixels alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def frame_colour(index: int) -> tuple[int, int, int]:
    """The RGB colour of frame ``index``: distinct for 0..255, neighbours 16 levels apart (lossy coding
    moves a flat colour by a few levels)."""
    return (16 * (index % 16) + 8, 30 + 60 * (index // 16 % 4), 30 + 60 * (index // 64 % 4))


def frame_index(rgb: tuple[int, ...], frames: int) -> int:
    """The frame whose colour is nearest ``rgb`` (decoded colours are within a few levels of the written ones)."""
    return min(range(frames), key=lambda k: sum((a - b) ** 2 for a, b in zip(frame_colour(k), rgb[:3], strict=True)))


def write_video(path: Path, frames: int = 8, size: tuple[int, int] = (32, 24), fps: int = 8,
                codec: str = "mpeg4") -> Path:
    """An ``frames``-frame video of ``size`` (width, height); frame k is one flat :func:`frame_colour`."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 1  # every frame a key frame: no drift between flat frames
        stream.options = {"qscale": "1"} if codec == "mpeg4" else {}
        for k in range(frames):
            pixels = np.empty((height, width, 3), dtype=np.uint8)
            pixels[:] = frame_colour(k)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
