"""Projectors: the experts' fused token grid of a tile -> LLM embeddings (``model/projector`` group).

Each takes ``(n, 1 + g*g, in_dim)`` (a class-like token, then the g x g patch grid row-major) and
returns ``(n, projected_tokens(spec, g), out_dim)``; the count comes from
:func:`sphinx_x.data.visual_tokens.projected_tokens`, the function the data side reserves slots with.
"""

from __future__ import annotations

import torch
from torch import nn

from sphinx_x.data.visual_tokens import ProjectorSpec, projected_tokens


def linear_projector(in_dim: int, out_dim: int) -> nn.Sequential:
    """SPHINX-X: Linear + LayerNorm on every token (state-dict names ``0.weight``, ``1.weight``, ...)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim))


class ResamplerLayer(nn.Module):
    """One Perceiver-resampler block: latents cross-attend to [visual tokens; latents], then an FFN."""

    def __init__(self, dim: int, heads: int, ffn_mult: int):
        super().__init__()
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ffn_mult * dim), nn.GELU(),
                                 nn.Linear(ffn_mult * dim, dim))

    def forward(self, latents: torch.Tensor, media: torch.Tensor) -> torch.Tensor:
        """latents (n, L, dim), media (n, T, dim) -> latents (n, L, dim)."""
        queries = self.norm_latents(latents)
        keys = torch.cat([self.norm_media(media), queries], dim=1)  # (n, T + L, dim), as Flamingo
        latents = latents + self.attn(queries, keys, keys, need_weights=False)[0]
        return latents + self.ffn(latents)


class PerceiverResampler(nn.Module):
    """Lynx's prefix projector: ``latents`` learnable queries read a tile's tokens through ``layers``
    cross-attention + FFN blocks (Flamingo's Perceiver resampler), so every tile (or image) becomes
    ``latents`` embeddings whatever its grid. The tokens are first mapped to the LLM width."""

    def __init__(self, in_dim: int, out_dim: int, latents: int = 32, layers: int = 3, heads: int = 8,
                 ffn_mult: int = 4):
        super().__init__()
        if out_dim % heads:
            raise ValueError(f"model.projector.heads: {heads} does not divide the LLM width {out_dim}")
        self.input = nn.Linear(in_dim, out_dim)
        self.latents = nn.Parameter(torch.randn(latents, out_dim) * 0.02)
        self.layers = nn.ModuleList(ResamplerLayer(out_dim, heads, ffn_mult) for _ in range(layers))
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(n, T, in_dim) -> (n, latents, out_dim)."""
        media = self.input(tokens)  # (n, T, out_dim)
        latents = self.latents.expand(len(tokens), -1, -1)  # (n, L, out_dim)
        for layer in self.layers:
            latents = layer(latents, media)
        return self.norm(latents)


class TokenMerge2x2(nn.Module):
    """InternLM-XComposer-2.5's token merge: the class token is dropped, every 2x2 neighbourhood of the
    g x g patch grid is concatenated along channels (top-left, top-right, bottom-left, bottom-right) into
    one 4C token, and an MLP (Linear, GELU, Linear, as IXC-2.5's vision projector) maps it to the LLM
    width: (g/2)**2 tokens per tile (40 x 40 -> 400)."""

    def __init__(self, in_dim: int, out_dim: int, grid: int):
        super().__init__()
        projected_tokens(ProjectorSpec(name="merge2x2"), grid)  # an odd grid is refused, naming the field
        self.grid = grid
        self.mlp = nn.Sequential(nn.Linear(4 * in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(n, 1 + g*g, C) -> (n, (g/2)**2, out_dim)."""
        n, count, channels = tokens.shape
        g, half = self.grid, self.grid // 2
        if count != 1 + g * g:
            raise ValueError(f"merge2x2 expects 1 + {g}*{g} tokens per tile, got {count}")
        patches = tokens[:, 1:].reshape(n, half, 2, half, 2, channels)  # (n, row pair, dy, col pair, dx, C)
        merged = patches.permute(0, 1, 3, 2, 4, 5).reshape(n, half * half, 4 * channels)  # (n, (g/2)**2, 4C)
        return self.mlp(merged)


def build_projector(spec: ProjectorSpec, in_dim: int, out_dim: int, token_grid: int) -> nn.Module:
    """The projector ``spec`` names, for ``in_dim`` fused channels, an ``out_dim`` LLM and a g x g grid."""
    if spec.name == "resampler":
        return PerceiverResampler(in_dim, out_dim, spec.latents, spec.layers, spec.heads, spec.ffn_mult)
    if spec.name == "merge2x2":
        return TokenMerge2x2(in_dim, out_dim, token_grid)
    return linear_projector(in_dim, out_dim)
