"""Frozen vision encoders behind one interface: uint8 tiles in, (tiles, 1 + g*g, width) tokens out.

Each encoder declares its input size, normalisation, token grid and width, and resizes and
normalises on the device, so tiles are made once in the data workers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sphinx_x.data.tiling import CLIP_MEAN

CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_MODES = ("bicubic", "bilinear", "nearest")  # nearest: SPHINX v1's ConvNeXt input (224 -> 256)


class VisionEncoder(nn.Module):
    """Base: resize + normalise, then ``encode`` normalised pixels into tokens (CLS-like first)."""

    def __init__(self, input_size: int, width: int, grid: int, mean: tuple[float, ...], std: tuple[float, ...],
                 device: str | None = None, resize_mode: str = "bicubic"):
        super().__init__()
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"encoder resize_mode must be one of {list(RESIZE_MODES)}, got {resize_mode!r}")
        self.input_size = input_size
        self.resize_mode = resize_mode
        self.width = width
        self.grid = grid
        self.register_buffer("mean", torch.tensor(mean, device=device).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, device=device).view(1, 3, 1, 1), persistent=False)

    @property
    def num_tokens(self) -> int:
        return self.grid * self.grid + 1

    def preprocess(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (n, 3, P, P) -> normalised float (n, 3, S, S) at this encoder's input size."""
        x = pixels.to(self.mean.dtype) / 255.0
        if x.shape[-1] != self.input_size:
            corners = None if self.resize_mode == "nearest" else False
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode=self.resize_mode, align_corners=corners)
        return (x - self.mean) / self.std

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encode(self.preprocess(pixels))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ConvNeXtEncoder(VisionEncoder):
    """CLIP-ConvNeXt trunk feature map (stride 32) after the head's norm, flattened, with its global
    average as pseudo-CLS (the authors run the open_clip trunk with the head's pooling removed, so
    ``head.norm`` is applied to the map).

    ``open_clip`` builds the paper's ``convnext_xxlarge``; ``timm`` builds the same trunk family at
    any size (tiny random ones for tests and the demo). ``upsample`` repeats every map cell
    ``upsample`` x ``upsample`` times, as SPHINX v1 does with its 8 x 8 map at 256 px (-> 16 x 16).
    """

    def __init__(self, source: str = "open_clip", model_name: str = "convnext_xxlarge",
                 pretrained: str | None = None, input_size: int = 512, timm_kwargs: dict[str, Any] | None = None,
                 device: str | None = None, resize_mode: str = "bicubic", upsample: int = 1):
        if upsample < 1:
            raise ValueError(f"model.encoders.convnext.upsample: must be >= 1, got {upsample}")
        trunk = _convnext_trunk(source, model_name, pretrained, timm_kwargs or {}, device)
        width = trunk.num_features
        super().__init__(input_size, width, input_size // 32 * upsample, CLIP_MEAN, CLIP_STD, device, resize_mode)
        self.trunk = trunk
        self.upsample = upsample

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk.head.norm(self.trunk.forward_features(x))  # (n, C, g, g), LayerNorm2d over C
        if self.upsample > 1:  # (n, C, g*u, g*u), every cell repeated u x u
            features = features.repeat_interleave(self.upsample, dim=-1).repeat_interleave(self.upsample, dim=-2)
        tokens = features.flatten(2).transpose(1, 2)  # (n, g*g, C)
        return torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)  # (n, 1 + g*g, C)


def _convnext_trunk(source: str, model_name: str, pretrained: str | None, timm_kwargs: dict[str, Any],
                    device: str | None) -> nn.Module:
    if source == "open_clip":
        import open_clip

        with torch.device(device or "cpu"):  # on "meta" nothing is allocated or initialised
            model = open_clip.create_model(model_name, pretrained=pretrained, device=device)
        return model.visual.trunk
    if source == "timm":
        import timm

        with torch.device(device or "cpu"):
            return timm.create_model(model_name, pretrained=False, num_classes=0, **timm_kwargs)
    raise ValueError(f"model.encoders.convnext.source must be 'open_clip' or 'timm', got {source!r}")


class HFViTEncoder(VisionEncoder):
    """A ``transformers`` ViT (DINOv2 or CLIP vision tower): last hidden state = CLS + patches.

    ``final_norm`` (CLIP) applies the tower's ``post_layernorm`` to every token, as SPHINX v1 does
    (transformers applies it to the pooled token only). ``pos_interpolate_offset`` (DINOv2) resizes
    the position table the way the torch.hub DINOv2 the authors ran does (scale factor
    ``(g + offset) / G`` instead of the target size), so a 224 px tile sees their positions.
    """

    def __init__(self, kind: str = "dinov2", name_or_path: str | None = None, config: dict[str, Any] | None = None,
                 input_size: int = 224, device: str | None = None, resize_mode: str = "bicubic",
                 final_norm: bool = False, pos_interpolate_offset: float | None = None):
        model = _hf_vision_model(kind, name_or_path, config, device)
        patch = model.config.patch_size
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if kind == "dinov2" else (CLIP_MEAN, CLIP_STD)
        super().__init__(input_size, model.config.hidden_size, input_size // patch, mean, std, device, resize_mode)
        if final_norm and kind != "clip":
            raise ValueError(f"final_norm is for CLIP towers (their post_layernorm), not {kind!r}")
        if pos_interpolate_offset is not None:
            if kind != "dinov2":
                raise ValueError(f"pos_interpolate_offset is for DINOv2, not {kind!r}")
            _hub_position_interpolation(model.embeddings, float(pos_interpolate_offset))
        self.kind = kind
        self.model = model
        self.final_norm = final_norm

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.model(pixel_values=x).last_hidden_state  # (n, 1 + g*g, width)
        if self.final_norm:
            hidden = self.model.post_layernorm(hidden)
        if hidden.shape[1] != self.num_tokens:
            raise ValueError(f"{self.kind} returned {hidden.shape[1]} tokens, expected {self.num_tokens}")
        return hidden


def _hf_vision_model(kind: str, name_or_path: str | None, config: dict[str, Any] | None, device: str | None):
    import transformers

    classes = {"dinov2": (transformers.Dinov2Model, transformers.Dinov2Config),
               "clip": (transformers.CLIPVisionModel, transformers.CLIPVisionConfig)}
    if kind not in classes:
        raise ValueError(f"encoder kind must be one of {sorted(classes)}, got {kind!r}")
    model_cls, config_cls = classes[kind]
    if name_or_path:
        return model_cls.from_pretrained(name_or_path, device_map=device)
    if config is None:
        raise ValueError(f"a {kind} encoder needs name_or_path (weights) or config (random init)")
    with torch.device(device or "cpu"):
        return model_cls(config_cls(**config))


def _hub_position_interpolation(embeddings: nn.Module, offset: float) -> None:
    """Make a transformers ``Dinov2Embeddings`` resize its position table like torch.hub's DINOv2."""
    import types

    def interpolate(self: nn.Module, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        table = self.position_embeddings  # (1, 1 + G*G, dim)
        count = table.shape[1] - 1
        patch = self.patch_embeddings.patch_size
        rows, cols = height // patch[0], width // patch[1]
        if count == rows * cols and height == width:
            return table
        side = round(count**0.5)
        grid = table[:, 1:].float().reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, dim, G, G)
        grid = F.interpolate(grid, scale_factor=((rows + offset) / side, (cols + offset) / side), mode="bicubic",
                             align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1).to(table.dtype)  # (1, rows*cols, dim)
        return torch.cat([table[:, :1], grid], dim=1)

    embeddings.interpolate_pos_encoding = types.MethodType(interpolate, embeddings)
