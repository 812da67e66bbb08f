"""How many visual embeddings one tile group becomes: the one function of the ``model`` config that both
the data side (slot counts, :class:`~sphinx_x.data.tiling.VisualLayout`) and the model side
(:class:`~sphinx_x.model.mov.MixtureOfVisualExperts`) read, so they never disagree.

``model.projector`` (Hydra group ``model/projector``) picks what turns the experts' fused
``(1 + g*g)``-token grid into LLM embeddings:

- ``linear``: SPHINX-X's Linear + LayerNorm per token -> ``1 + g*g`` tokens (257 at the paper's g=16);
- ``resampler``: Lynx's Perceiver resampler -> ``latents`` tokens (32), whatever the grid;
- ``merge2x2``: InternLM-XComposer-2.5's token merge, every 2x2 patch neighbourhood concatenated along
  channels (the class token dropped) -> ``(g/2)**2`` tokens (400 at g=40).

SPHINX v1's query experts (Q-Former) add their own tokens in front, whatever the projector. A config
without ``model.projector`` (older configs and exports) is ``linear``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

PROJECTORS = ("linear", "resampler", "merge2x2")


@dataclass(frozen=True)
class ProjectorSpec:
    """``model.projector``: its ``name`` and, for the resampler, its shape."""

    name: str = "linear"
    latents: int = 32  # resampler: learnable queries = visual tokens per tile
    layers: int = 3  # resampler: cross-attention + FFN blocks
    heads: int = 8  # resampler: attention heads (must divide the LLM width)
    ffn_mult: int = 4  # resampler: FFN hidden width = ffn_mult x LLM width

    def __post_init__(self) -> None:
        if self.name not in PROJECTORS:
            raise ValueError(f"model.projector.name: must be one of {list(PROJECTORS)}, got {self.name!r}")
        for field in ("latents", "layers", "heads", "ffn_mult"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"model.projector.{field}: must be an integer >= 1, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def projector_spec(model_cfg: DictConfig | dict[str, Any]) -> ProjectorSpec:
    """``model.projector`` checked (errors name the field); absent or null is ``linear``."""
    raw = model_cfg.get("projector")
    if raw is None:
        return ProjectorSpec()
    if OmegaConf.is_config(raw):
        raw = OmegaConf.to_container(raw, resolve=True)
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"model.projector: must be a mapping with a name (one of {list(PROJECTORS)}), got {raw!r}")
    known = {f.name for f in fields(ProjectorSpec)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"model.projector: unknown fields {unknown}; allowed {sorted(known)}")
    return ProjectorSpec(**raw)


def projected_tokens(spec: ProjectorSpec, token_grid: int) -> int:
    """Embeddings the projector makes from one tile's ``(1 + token_grid**2)`` fused expert tokens."""
    if spec.name == "resampler":
        return spec.latents
    if spec.name == "merge2x2":
        if token_grid % 2:
            raise ValueError(f"model.encoders.token_grid: model.projector=merge2x2 merges 2x2 neighbourhoods and "
                             f"needs an even grid, got {token_grid}")
        return (token_grid // 2) ** 2
    return token_grid * token_grid + 1


def tokens_per_tile(model_cfg: DictConfig | dict[str, Any], query_tokens: int = 0) -> int:
    """Visual embeddings per tile group: the projector's tokens plus the query experts' ``query_tokens``."""
    encoders = model_cfg["encoders"]
    return projected_tokens(projector_spec(model_cfg), int(encoders["token_grid"])) + query_tokens
