"""The visual layout (the slot rule, read from the model config) and the tiler that cuts images.

The tiler runs in DataLoader workers: it makes every tile once, at the largest encoder input
size, as uint8; each encoder resizes and normalises on the device.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from sphinx_x.data.geometry import ANCHORS, Anchor, ImageFrame
from sphinx_x.data.records import IMAGE_TOKEN
from sphinx_x.data.slots import END, SKIP, START, VISUAL
from sphinx_x.data.visual_tokens import tokens_per_tile

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
PAD_RGB = tuple(int(c * 255) for c in CLIP_MEAN)  # (122, 116, 104): the authors' PadToSquare colour, ~0 once normalised
PARTITIONS = ("grid", "dynamic")  # model.tiling.partition: n x n grid (SPHINX), per-image grid (IXC-2.5, dynamic_tiling.py)


@dataclass(frozen=True)
class VisualLayout:
    """What the data pipeline must know about the model's visual tokens.

    ``tokens_per_tile`` is the number of embeddings MoV returns per tile group (257 in the paper);
    every kept group is wrapped in start/end embeddings, every skipped tile is one skip embedding.
    ``sub_images=False`` (with ``grid=1``) is SPHINX v1's single view: the global view alone.
    """

    grid: int = 2
    tile_pixels: int = 224
    tokens_per_tile: int = 257
    anchor: Anchor = "top_left"
    skip_padded_tiles: bool = True
    sub_images: bool = True
    image_tags: bool = False  # IXC-2.5: "Image1 ", "Image2 ", ... before each image of a multi-image sample

    def __post_init__(self) -> None:
        if self.grid < 1:
            raise ValueError(f"model.tiling.grid: must be >= 1, got {self.grid}")
        if not self.sub_images and self.grid != 1:
            raise ValueError(f"model.tiling.sub_images=false (one global view) needs grid: 1, got {self.grid}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"model.tiling.anchor: must be one of {list(ANCHORS)}, got {self.anchor!r}")
        if self.tokens_per_tile < 2:
            raise ValueError(f"model.encoders.token_grid: must be >= 1 (tokens_per_tile {self.tokens_per_tile})")
        if self.tile_pixels < 1:
            raise ValueError(f"model.encoders.<expert>.input_size: must be >= 1, got {self.tile_pixels}")

    def keep_mask(self, frame: ImageFrame) -> list[bool]:
        """Global view first (always kept), then the tiles row-major."""
        if not self.sub_images:
            return [True]
        tiles = frame.keep_mask() if self.skip_padded_tiles else [True] * self.grid**2
        return [True, *tiles]

    def slot_kinds(self, keep: list[bool]) -> list[int]:
        """The slot rule: ``[start] visual*T [end]`` per kept tile group, one ``[skip]`` per skipped tile."""
        kinds: list[int] = []
        for kept in keep:
            kinds.extend([START, *([VISUAL] * self.tokens_per_tile), END] if kept else [SKIP])
        return kinds

    def num_slots(self, keep: list[bool]) -> int:
        """LLM positions one image takes (the length of :meth:`slot_kinds`)."""
        return len(self.slot_kinds(keep))

    @property
    def max_slots(self) -> int:
        """Positions of the largest image: a square one, where no tile is skipped."""
        return self.num_slots([True] * (self.grid**2 + 1 if self.sub_images else 1))

    def frame(self, width: int, height: int) -> ImageFrame:
        return ImageFrame.fit(width, height, side=self.grid * self.tile_pixels, grid=self.grid, anchor=self.anchor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tiler(self) -> GridTiler:
        """The tiler that cuts images for this layout."""
        return GridTiler(self)

    def tag_images(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """With ``image_tags`` and two or more images, ``Image<k> `` before the k-th ``<image>`` (1-based)."""
        if not self.image_tags or sum(m["content"].count(IMAGE_TOKEN) for m in messages) < 2:
            return messages
        count = 0

        def tag(match: re.Match) -> str:
            nonlocal count
            count += 1
            return f"Image{count} {match.group(0)}"

        return [{**m, "content": re.sub(re.escape(IMAGE_TOKEN), tag, m["content"])} for m in messages]

    @classmethod
    def from_model_config(cls, model_cfg: DictConfig) -> VisualLayout:
        """Token counts and tile size from the ``model`` config alone (no weights needed).

        Tiles are cut at the largest expert input size unless ``model.tiling.tile_pixels`` says otherwise
        (SPHINX v1 cuts 224 px tiles and upsamples them to 256 px for its ConvNeXt).
        """
        experts = expert_configs(model_cfg)
        queries = query_expert_configs(model_cfg)
        tile_pixels = model_cfg.tiling.get("tile_pixels") or max(
            int(e.input_size) for e in [*experts.values(), *queries.values()])
        query_tokens = sum(int(q.num_query_tokens) for q in queries.values())
        partition = model_cfg.tiling.get("partition", "grid")
        if partition not in PARTITIONS:
            raise ValueError(f"model.tiling.partition: must be one of {list(PARTITIONS)}, got {partition!r}")
        if partition == "dynamic":
            from sphinx_x.data.dynamic_tiling import DynamicLayout  # built on this module

            return DynamicLayout.from_tiling_config(model_cfg.tiling, int(tile_pixels),
                                                    tokens_per_tile(model_cfg, query_tokens))
        return cls(grid=int(model_cfg.tiling.grid), tile_pixels=int(tile_pixels),
                   tokens_per_tile=tokens_per_tile(model_cfg, query_tokens),
                   anchor=model_cfg.tiling.anchor, skip_padded_tiles=bool(model_cfg.tiling.skip_padded_tiles),
                   sub_images=bool(model_cfg.tiling.get("sub_images", True)),
                   image_tags=bool(model_cfg.tiling.get("image_tags", False)))


def layout_from_dict(saved: dict[str, Any]) -> VisualLayout:
    """The layout a processor saved (:meth:`VisualLayout.to_dict`): a grid, or the dynamic partition."""
    fields = dict(saved)
    partition = fields.pop("partition", "grid")
    if partition not in PARTITIONS:
        raise ValueError(f"layout.partition: must be one of {list(PARTITIONS)}, got {partition!r}")
    if partition == "dynamic":
        from sphinx_x.data.dynamic_tiling import DynamicLayout

        return DynamicLayout(**fields)
    return VisualLayout(**fields)


def expert_configs(model_cfg: DictConfig) -> dict[str, DictConfig]:
    """The encoder configs named by ``model.vision.experts``, in that order."""
    names = list(model_cfg.vision.experts)
    available = [k for k in model_cfg.encoders if k != "token_grid"]
    if not names:
        raise ValueError(f"model.vision.experts: is empty, name at least one of {available}")
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"model.vision.experts: must be one of {available} (model.encoders), got {unknown}")
    return {name: model_cfg.encoders[name] for name in names}


def query_expert_configs(model_cfg: DictConfig) -> dict[str, DictConfig]:
    """The encoder configs named by ``model.vision.query_experts`` (SPHINX v1's Q-Former), in order."""
    names = list(model_cfg.vision.get("query_experts") or [])
    available = [k for k in model_cfg.encoders if k != "token_grid"]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"model.vision.query_experts: must be one of {available} (model.encoders), got {unknown}")
    return {name: model_cfg.encoders[name] for name in names}


class GridTiler:
    """Scale and pad (CLIP mean colour) to the frame's square, then cut the global view and the kept tiles."""

    def __init__(self, layout: VisualLayout):
        self.layout = layout

    def __call__(self, image: Image.Image, frame: ImageFrame, keep: list[bool]) -> torch.Tensor:
        """Kept tile groups as uint8 (kept, 3, P, P): the global view, then kept tiles row-major."""
        layout = self.layout
        image = image.convert("RGB")
        side = frame.side
        canvas = np.empty((side, side, 3), dtype=np.uint8)
        canvas[:] = PAD_RGB
        content_w, content_h = frame.content_size
        x0, y0 = round(frame.offset_x), round(frame.offset_y)
        canvas[y0:y0 + content_h, x0:x0 + content_w] = np.asarray(
            image.resize((content_w, content_h), Image.Resampling.BICUBIC))
        square = torch.from_numpy(canvas).permute(2, 0, 1)  # (3, side, side)
        pixels = layout.tile_pixels
        global_view = torch.nn.functional.interpolate(
            square[None].float(), size=(pixels, pixels), mode="bilinear", antialias=True, align_corners=False
        ).round_().clamp_(0, 255).to(torch.uint8)  # (1, 3, P, P)
        n = layout.grid
        tiles = square.reshape(3, n, pixels, n, pixels).permute(1, 3, 0, 2, 4).reshape(n * n, 3, pixels, pixels)
        kept_tiles = tiles[torch.tensor(keep[1:], dtype=torch.bool)] if layout.sub_images else tiles[:0]
        return torch.cat([global_view, kept_tiles])
