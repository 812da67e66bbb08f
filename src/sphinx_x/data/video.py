"""Video as one image (InternLM-XComposer-2.5): frames sampled uniformly, each labelled with its index,
concatenated along the frames' short side (landscape frames stack into a tall image).

The result goes through the model's tiler like any photo (with ``model/tiling=ixc_dynamic`` its
aspect ratio picks a grid of up to ``max_tiles`` tiles). Frames are decoded with PyAV from untrusted
files: a missing, corrupt, empty or oversized video is a :class:`~sphinx_x.data.records.RecordError`
with its reason (``bad_video_path``, ``missing_video``, ``unreadable_video``, ``empty_video``,
``video_too_large``), counted like a bad image.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from sphinx_x.data.records import RecordError, short_repr

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"})
LABEL_BACKGROUND, LABEL_INK = (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True)
class VideoSettings:
    """``data.video``: how a video becomes one image."""

    max_frames: int = 64  # frames sampled uniformly (all of them when the video has fewer)
    frame_side: int = 1120  # each frame's long side is resized to this many pixels (IXC-2.5: 2 x 560)
    label: bool = True  # a band above each frame with its index ("Frame 1", "Frame 2", ...)

    def __post_init__(self) -> None:
        for name in ("max_frames", "frame_side"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"data.video.{name}: must be an integer >= 1, got {value!r}")

    @property
    def label_height(self) -> int:
        """Height of the index band: 1/28 of the frame side (40 px at 1120), at least 12 px."""
        return max(12, self.frame_side // 28) if self.label else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, cfg: Any) -> VideoSettings:
        """From ``data.video`` (a mapping; None: the defaults); unknown fields are an error naming them."""
        if cfg is None:
            return cls()
        fields = dict(cfg)
        unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"data.video: unknown fields {unknown}; allowed {sorted(cls.__dataclass_fields__)}")
        return cls(**fields)


def is_video(path: Any) -> bool:
    """Whether ``path`` names a video file (by its extension)."""
    return isinstance(path, (str, os.PathLike)) and Path(path).suffix.lower() in VIDEO_EXTENSIONS


def sample_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices spread uniformly over ``total`` frames (the middle of equal segments)."""
    count = min(count, total)
    return [int((k + 0.5) * total / count) for k in range(count)]


def read_frames(path: str | os.PathLike, record_id: str | None, max_frames: int,
                max_pixels: int | None = None) -> list[Image.Image]:
    """Up to ``max_frames`` frames sampled uniformly from the first video stream, as RGB images."""
    import av

    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise RecordError("bad_video_path", f"not a file path: {short_repr(path)}", record_id)
    if not os.path.isfile(path):
        raise RecordError("missing_video", str(path), record_id)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RecordError("unreadable_video", f"{path}: no video stream", record_id)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if max_pixels is not None and width * height > max_pixels:
                raise RecordError("video_too_large", f"{path}: {width}x{height} frames, over "
                                                     f"data.max_image_pixels={max_pixels}", record_id)
            frames = _sampled(container, stream, max_frames)
    except RecordError:
        raise
    except Exception as e:  # decoders of untrusted bytes raise many kinds (av.error.*, OSError, ValueError)
        raise RecordError("unreadable_video", f"{path}: {type(e).__name__}: {short_repr(str(e), 200)}",
                          record_id) from None
    if not frames:
        raise RecordError("empty_video", f"{path}: no frame decodes", record_id)
    return frames


def _sampled(container: Any, stream: Any, max_frames: int) -> list[Image.Image]:
    """Decode once, keeping the sampled frames; when the header's frame count is missing or wrong, the
    frames are sampled again from those decoded (at most ``2 * max_frames`` kept at a time)."""
    total = int(stream.frames or 0)
    wanted = set(sample_indices(total, max_frames)) if total else None
    kept: list[tuple[int, Image.Image]] = []
    count, stride = 0, 1  # unknown length: every stride-th frame, the stride doubling as the video goes on
    for index, frame in enumerate(container.decode(stream)):
        count = index + 1
        if index in wanted if wanted is not None else index % stride == 0:
            kept.append((index, frame.to_image().convert("RGB")))
            if wanted is None and len(kept) > 2 * max_frames:
                stride *= 2
                kept = [(i, image) for i, image in kept if i % stride == 0]
    if wanted is not None and count == total and len(kept) == len(wanted):
        return [image for _, image in kept]
    chosen = sample_indices(len(kept), max_frames)
    return [kept[k][1] for k in chosen]


def frames_to_image(frames: list[Image.Image], settings: VideoSettings) -> Image.Image:
    """Frames resized (long side ``frame_side``), each under a band with its 1-based index, concatenated
    along the short side: landscape frames top to bottom, portrait frames left to right."""
    if not frames:
        raise ValueError("no frames")
    first_w, first_h = frames[0].size
    side, band = settings.frame_side, settings.label_height
    scale = side / max(first_w, first_h)
    size = (max(1, round(first_w * scale)), max(1, round(first_h * scale)))  # every frame of a stream: one size
    cell_w, cell_h = size[0], size[1] + band
    vertical = first_w >= first_h
    canvas = Image.new("RGB", (cell_w, cell_h * len(frames)) if vertical else (cell_w * len(frames), cell_h),
                       LABEL_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(8, int(band * 0.75))) if band else None
    for k, frame in enumerate(frames):
        x, y = (0, k * cell_h) if vertical else (k * cell_w, 0)
        canvas.paste(frame.resize(size, Image.Resampling.BICUBIC), (x, y + band))
        if font is not None:
            draw.text((x + band // 4, y + band // 8), f"Frame {k + 1}", fill=LABEL_INK, font=font)
    return canvas


def load_video(path: str | os.PathLike, record_id: str | None, settings: VideoSettings,
               max_pixels: int | None = None) -> Image.Image:
    """The video at ``path`` as one image (see the module docstring); ``max_pixels`` bounds the decoded
    frames and the image made of them."""
    image = frames_to_image(read_frames(path, record_id, settings.max_frames, max_pixels), settings)
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise RecordError("video_too_large", f"{path}: {width}x{height} pixels as one image, over "
                                             f"data.max_image_pixels={max_pixels}", record_id)
    return image
