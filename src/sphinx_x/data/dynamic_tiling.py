"""InternLM-XComposer-2.5's unified dynamic image partition (``model/tiling=ixc_dynamic``).

Each image gets its own grid of ``tile_pixels`` tiles, chosen from its aspect ratio: the largest scale
``s`` with ``s * ceil(s / ratio) <= max_tiles``, capped by ``ceil(long side / tile_pixels)``; the long
side is resized to ``s * tile_pixels`` (aspect kept) and the short side padded to a multiple of
``tile_pixels``, so no tile is ever fully padded. A global view (the padded image resized to one tile)
comes first. In the LLM sequence::

    [start] global [end] [separator] ([start] tile [end]) x cols [newline] ... one line per row of tiles

so an image's slot count follows from its own grid: ``(1 + rows*cols) * (T + 2) + 1 + rows``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from sphinx_x.data.geometry import Anchor, ImageFrame
from sphinx_x.data.slots import END, NEWLINE, SEPARATOR, SKIP, START, VISUAL
from sphinx_x.data.tiling import PAD_RGB, VisualLayout

PARTITION = "dynamic"  # ``model.tiling.partition`` (and the saved layout's ``partition``) naming this layout


def partition_grid(width: int, height: int, max_tiles: int, tile: int) -> tuple[int, int]:
    """(cols, rows) of the grid IXC-2.5 picks for a ``width`` x ``height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    long, short = max(width, height), min(width, height)
    scale = 1
    while (scale + 1) * _ceil_div((scale + 1) * short, long) <= max_tiles:  # s * ceil(s / ratio) <= H
        scale += 1
    scale = max(1, min(scale, _ceil_div(long, tile)))
    short_pixels = max(1, round(short * scale * tile / long))
    across = _ceil_div(short_pixels, tile)
    return (scale, across) if width >= height else (across, scale)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PartitionFrame(ImageFrame):
    """An :class:`ImageFrame` whose padded canvas is ``cols`` x ``rows`` tiles of ``tile`` pixels (a
    rectangle); coordinates are normalised to [0, 1] along each side of that canvas. ``side`` and
    ``grid`` hold the canvas's longer side and its tile count, for code that reads a square frame."""

    rows: int = 1
    cols: int = 1
    tile: int = 1

    @classmethod
    def partition(cls, width: int, height: int, max_tiles: int, tile: int, anchor: Anchor = "center"
                  ) -> PartitionFrame:
        cols, rows = partition_grid(width, height, max_tiles, tile)
        scale = max(cols, rows) * tile / max(width, height)
        frame = cls(width, height, max(cols, rows) * tile, max(cols, rows), scale, 0.0, 0.0, rows, cols, tile)
        if anchor == "top_left":
            return frame
        content_w, content_h = frame.content_size
        return cls(width, height, frame.side, frame.grid, scale, (cols * tile - content_w) / 2,
                   (rows * tile - content_h) / 2, rows, cols, tile)

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the padded canvas in model pixels."""
        return self.cols * self.tile, self.rows * self.tile

    def keep_mask(self) -> list[bool]:
        """Row-major flags over the ``rows`` x ``cols`` tiles (all True: padding never fills a tile)."""
        x1, y1 = self.offset_x + self.width * self.scale, self.offset_y + self.height * self.scale
        eps = 1e-6 * self.tile
        return [min(x1, (c + 1) * self.tile) - max(self.offset_x, c * self.tile) > eps
                and min(y1, (r + 1) * self.tile) - max(self.offset_y, r * self.tile) > eps
                for r in range(self.rows) for c in range(self.cols)]

    def normalise_point(self, x: float, y: float) -> tuple[float, float]:
        canvas_w, canvas_h = self.canvas_size
        return (x * self.scale + self.offset_x) / canvas_w, (y * self.scale + self.offset_y) / canvas_h

    def denormalise_point(self, u: float, v: float) -> tuple[float, float]:
        canvas_w, canvas_h = self.canvas_size
        x = (u * canvas_w - self.offset_x) / self.scale
        y = (v * canvas_h - self.offset_y) / self.scale
        return min(max(x, 0.0), float(self.width)), min(max(y, 0.0), float(self.height))


class TileKeep(list):
    """A keep mask (global view, then tiles row-major) that also knows its grid's width: with one grid
    per image, the slot rule needs it to end each row of tiles."""

    def __init__(self, flags: list[bool], cols: int):
        super().__init__(flags)
        self.cols = cols


@dataclass(frozen=True)
class DynamicLayout(VisualLayout):
    """The slot rule and frames of the dynamic partition (``grid`` is unused: each image has its own)."""

    grid: int = 1
    anchor: Anchor = "center"
    max_tiles: int = 12
    row_newline: bool = True
    view_separator: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_tiles < 1:
            raise ValueError(f"model.tiling.max_tiles: must be >= 1, got {self.max_tiles}")
        if not self.sub_images:
            raise ValueError("model.tiling.sub_images: the dynamic partition always cuts sub-images (true)")

    def frame(self, width: int, height: int) -> PartitionFrame:
        return PartitionFrame.partition(width, height, self.max_tiles, self.tile_pixels, self.anchor)

    def keep_mask(self, frame: ImageFrame) -> TileKeep:
        if not isinstance(frame, PartitionFrame):
            raise TypeError(f"the dynamic partition needs a PartitionFrame (DynamicLayout.frame), got {type(frame).__name__}")
        return TileKeep([True, *frame.keep_mask()], frame.cols)

    def slot_kinds(self, keep: list[bool]) -> list[int]:
        """``[start] global [end] [separator]``, then each row's tile groups (or skips) and a ``[newline]``."""
        if not isinstance(keep, TileKeep):
            raise TypeError("DynamicLayout.slot_kinds needs the keep mask made by DynamicLayout.keep_mask")
        group = [START, *([VISUAL] * self.tokens_per_tile), END]
        kinds = list(group if keep[0] else [SKIP])
        if self.view_separator:
            kinds.append(SEPARATOR)
        tiles = keep[1:]
        for row in range(0, len(tiles), keep.cols):
            for kept in tiles[row: row + keep.cols]:
                kinds.extend(group if kept else [SKIP])
            if self.row_newline:
                kinds.append(NEWLINE)
        return kinds

    @property
    def max_slots(self) -> int:
        """Positions of the largest image: ``max_tiles`` tiles in one column (the most rows)."""
        return self.num_slots(TileKeep([True] * (self.max_tiles + 1), cols=1))

    def tiler(self) -> DynamicTiler:
        return DynamicTiler(self)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "partition": PARTITION}

    @classmethod
    def from_tiling_config(cls, tiling: DictConfig, tile_pixels: int, tokens_per_tile: int) -> DynamicLayout:
        """From ``model.tiling`` with the tile size and tokens per tile the model config gives; a value of
        the wrong type is an error naming its field."""
        max_tiles = tiling.get("max_tiles", 12)
        if not isinstance(max_tiles, int) or isinstance(max_tiles, bool):
            raise ValueError(f"model.tiling.max_tiles: must be an integer, got {max_tiles!r}")
        flags = {name: tiling.get(name, default) for name, default in
                 (("row_newline", True), ("view_separator", True), ("image_tags", False))}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"model.tiling.{name}: must be true or false, got {value!r}")
        return cls(tile_pixels=tile_pixels, tokens_per_tile=tokens_per_tile, max_tiles=max_tiles,
                   anchor=tiling.get("anchor", "center"), **flags)


class DynamicTiler:
    """Resize (long side to ``cols`` or ``rows`` tiles), pad to the frame's canvas (CLIP mean colour),
    then cut the global view (the canvas resized to one tile) and the kept tiles row-major."""

    def __init__(self, layout: DynamicLayout):
        self.layout = layout

    def __call__(self, image: Image.Image, frame: ImageFrame, keep: list[bool]) -> torch.Tensor:
        """Kept tile groups as uint8 (kept, 3, P, P): the global view, then kept tiles row-major."""
        if not isinstance(frame, PartitionFrame):
            raise TypeError(f"DynamicTiler needs a PartitionFrame, got {type(frame).__name__}")
        pixels = self.layout.tile_pixels
        canvas_w, canvas_h = frame.canvas_size
        canvas = np.empty((canvas_h, canvas_w, 3), dtype=np.uint8)
        canvas[:] = PAD_RGB
        content_w, content_h = frame.content_size
        x0, y0 = round(frame.offset_x), round(frame.offset_y)
        canvas[y0:y0 + content_h, x0:x0 + content_w] = np.asarray(
            image.convert("RGB").resize((content_w, content_h), Image.Resampling.BICUBIC))
        padded = torch.from_numpy(canvas).permute(2, 0, 1)  # (3, rows*P, cols*P)
        global_view = torch.nn.functional.interpolate(
            padded[None].float(), size=(pixels, pixels), mode="bilinear", antialias=True, align_corners=False
        ).round_().clamp_(0, 255).to(torch.uint8)  # (1, 3, P, P)
        rows, cols = frame.rows, frame.cols
        tiles = padded.reshape(3, rows, pixels, cols, pixels).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, pixels, pixels)
        return torch.cat([global_view, tiles[torch.tensor(keep[1:], dtype=torch.bool)]])
