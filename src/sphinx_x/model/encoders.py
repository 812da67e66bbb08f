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


class VisionEncoder(nn.Module):
    """Base: resize + normalise, then ``encode`` normalised pixels into tokens (CLS-like first)."""

    def __init__(self, input_size: int, width: int, grid: int, mean: tuple[float, ...], std: tuple[float, ...],
                 device: str | None = None):
        super().__init__()
        self.input_size = input_size
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
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bicubic", align_corners=False)
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
    any size (tiny random ones for tests and the demo).
    """

    def __init__(self, source: str = "open_clip", model_name: str = "convnext_xxlarge",
                 pretrained: str | None = None, input_size: int = 512, timm_kwargs: dict[str, Any] | None = None,
                 device: str | None = None):
        trunk = _convnext_trunk(source, model_name, pretrained, timm_kwargs or {}, device)
        width = trunk.num_features
        super().__init__(input_size, width, input_size // 32, CLIP_MEAN, CLIP_STD, device)
        self.trunk = trunk

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk.head.norm(self.trunk.forward_features(x))  # (n, C, g, g), LayerNorm2d over C
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
    """A ``transformers`` ViT (DINOv2 or CLIP vision tower): last hidden state = CLS + patches."""

    def __init__(self, kind: str = "dinov2", name_or_path: str | None = None, config: dict[str, Any] | None = None,
                 input_size: int = 224, device: str | None = None):
        model = _hf_vision_model(kind, name_or_path, config, device)
        patch = model.config.patch_size
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if kind == "dinov2" else (CLIP_MEAN, CLIP_STD)
        super().__init__(input_size, model.config.hidden_size, input_size // patch, mean, std, device)
        self.kind = kind
        self.model = model

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.model(pixel_values=x).last_hidden_state  # (n, 1 + g*g, width)
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
