"""Mixture of Visual experts: frozen encoders, token grids aligned, channels concatenated, projected."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sphinx_x.data.visual_tokens import ProjectorSpec, projected_tokens
from sphinx_x.model.encoders import VisionEncoder
from sphinx_x.model.projector import build_projector, linear_projector


def align_grid(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """Resample the patch tokens of (n, 1 + g*g, c) to (n, 1 + grid*grid, c); the first token is kept."""
    n, count, channels = tokens.shape
    source_grid = round((count - 1) ** 0.5)
    if source_grid == grid:
        return tokens
    patches = tokens[:, 1:].transpose(1, 2).reshape(n, channels, source_grid, source_grid)  # (n, c, g, g)
    patches = F.interpolate(patches.float(), size=(grid, grid), mode="bilinear", align_corners=False)
    patches = patches.to(tokens.dtype).flatten(2).transpose(1, 2)  # (n, grid*grid, c)
    return torch.cat([tokens[:, :1], patches], dim=1)


class MixtureOfVisualExperts(nn.Module):
    """Runs every expert on the kept tiles, aligns grids, concatenates channels, projects (``projector``:
    Linear + LayerNorm by default, or a resampler / 2x2 merge, see :mod:`sphinx_x.model.projector`).

    ``query_experts`` (SPHINX v1's Q-Former) return a fixed number of tokens per tile; each gets its
    own Linear + LayerNorm and their tokens come first: (n, queries + projected tokens, out_dim).
    """

    def __init__(self, experts: dict[str, VisionEncoder], out_dim: int, token_grid: int, freeze: bool = True,
                 query_experts: dict[str, VisionEncoder] | None = None, projector: ProjectorSpec | None = None):
        super().__init__()
        if not experts:
            raise ValueError("model.vision.experts must name at least one encoder")
        self.experts = nn.ModuleDict(experts)
        self.token_grid = token_grid
        self.in_dim = sum(e.width for e in experts.values())
        self.projector_spec = projector or ProjectorSpec()
        self.projector = build_projector(self.projector_spec, self.in_dim, out_dim, token_grid)
        self.query_experts = nn.ModuleDict(query_experts or {})
        self.query_projectors = nn.ModuleDict({
            name: linear_projector(e.width, out_dim)
            for name, e in self.query_experts.items()})
        self.freeze = freeze
        if freeze:
            for frozen in (self.experts, self.query_experts):
                frozen.requires_grad_(False)
                frozen.eval()

    @property
    def tokens_per_tile(self) -> int:
        patches = projected_tokens(self.projector_spec, self.token_grid)
        return patches + sum(e.num_tokens for e in self.query_experts.values())

    @property
    def input_size(self) -> int:
        """Tiles are made at the largest expert input size."""
        return max(e.input_size for e in [*self.experts.values(), *self.query_experts.values()])

    def train(self, mode: bool = True) -> MixtureOfVisualExperts:
        super().train(mode)
        if self.freeze:
            self.experts.eval()  # frozen experts stay in eval mode (no dropout / stat updates)
            self.query_experts.eval()
        return self

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 tiles (n, 3, P, P) -> visual embeddings (n, tokens_per_tile, out_dim)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            features = [align_grid(expert(pixels), self.token_grid) for expert in self.experts.values()]
            queries = [expert(pixels) for expert in self.query_experts.values()]  # each (n, Q, width)
        fused = torch.cat(features, dim=-1)  # (n, 1 + grid*grid, sum of widths)
        dtype = next(self.projector.parameters()).dtype
        patches = self.projector(fused.to(dtype))
        if not queries:
            return patches
        projected = [project(q.to(dtype)) for project, q in zip(self.query_projectors.values(), queries, strict=True)]
        return torch.cat([*projected, patches], dim=1)  # (n, queries + projected tokens, out_dim)
