"""Lynx's adapters: a bottleneck after every M-th decoder block of any ``transformers`` LLM.

``model.llm.adapters: {every: M}`` (null: off) finds the LLM's decoder-layer list generically (LLaMA,
Mixtral, InternLM2, ... all keep one ``nn.ModuleList`` of identical blocks) and, after layers
``M-1, 2M-1, ...``, applies ``h + scale * Linear(d/2->d)(SiLU(Linear(d->d/2)(LayerNorm(h))))``. The scale
is a learnable per-channel vector initialised to 0, so the LLM computes exactly what it did before.

The adapter lives inside its decoder layer (``<layer>.lynx_adapter``, applied by a forward hook), so
the LLM's own parameter names, its ``generate``, its FSDP wrapping unit and its KV cache are unchanged.
Adapters are always trainable: with ``model.train_llm=false`` they, the projector and the special
embeddings are what trains, and checkpoints (``trainable_state_dict``) hold them.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ADAPTER_FIELDS = ("every",)
ADAPTER_ATTRIBUTE = "lynx_adapter"


def adapter_settings(adapters: Any) -> dict[str, int] | None:
    """``model.llm.adapters`` checked (``None``: off); errors name the field."""
    if adapters is None:
        return None
    if not isinstance(adapters, dict):
        raise ValueError(f"model.llm.adapters: must be null or a mapping with {list(ADAPTER_FIELDS)}, got {adapters!r}")
    unknown = sorted(set(adapters) - set(ADAPTER_FIELDS))
    if unknown:
        raise ValueError(f"model.llm.adapters: unknown fields {unknown}; allowed {list(ADAPTER_FIELDS)}")
    every = adapters.get("every", 2)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"model.llm.adapters.every: must be an integer >= 1, got {every!r}")
    return {"every": every}


class LynxAdapter(nn.Module):
    """LN -> Linear d->d/2 -> SiLU -> Linear d/2->d, added to the block's output with a zero-initialised scale."""

    def __init__(self, width: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.norm = nn.LayerNorm(width, **factory)
        self.down = nn.Linear(width, width // 2, **factory)
        self.up = nn.Linear(width // 2, width, **factory)
        self.scale = nn.Parameter(torch.zeros(width, **factory))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., width) -> (..., width)."""
        return hidden + self.scale * self.up(F.silu(self.down(self.norm(hidden))))

    def after_block(self, module: nn.Module, args: Any, output: Any) -> Any:
        """Forward hook of the decoder layer: a tensor, or a tuple whose first item is the hidden states."""
        if isinstance(output, tuple):
            return (self(output[0]), *output[1:])
        return self(output)


def decoder_layers(llm: nn.Module) -> nn.ModuleList:
    """The LLM's list of decoder blocks: a ``ModuleList`` of ``config.num_hidden_layers`` identical
    modules, preferring the class the model names in ``_no_split_modules`` (its decoder layer)."""
    count = getattr(getattr(llm, "config", None), "num_hidden_layers", None)
    no_split = set(getattr(llm, "_no_split_modules", None) or [])
    lists = [m for m in llm.modules() if isinstance(m, nn.ModuleList) and len(m) > 0
             and len({type(x) for x in m}) == 1 and (count is None or len(m) == count)]
    named = [m for m in lists if type(m[0]).__name__ in no_split]
    if not (named or lists):
        raise ValueError(f"model.llm.adapters: found no list of {count} decoder layers in {type(llm).__name__}")
    return (named or lists)[0]


def add_adapters(llm: nn.Module, adapters: Any) -> list[int]:
    """Put an adapter after every ``every``-th decoder layer of ``llm`` (in place); returns their indices."""
    settings = adapter_settings(adapters)
    if settings is None:
        return []
    layers = decoder_layers(llm)
    every = settings["every"]
    if every > len(layers):
        raise ValueError(f"model.llm.adapters.every: {every} exceeds the LLM's {len(layers)} decoder layers")
    width = int(llm.config.hidden_size)
    chosen = list(range(every - 1, len(layers), every))
    for index in chosen:
        layer = layers[index]
        if hasattr(layer, ADAPTER_ATTRIBUTE):
            raise ValueError(f"decoder layer {index} already has an adapter")
        reference = next(layer.parameters())
        adapter = LynxAdapter(width, device=reference.device, dtype=reference.dtype)
        setattr(layer, ADAPTER_ATTRIBUTE, adapter)
        layer.register_forward_hook(adapter.after_block)
    return chosen


def adapter_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Every adapter parameter of ``model`` by name."""
    return {name: p for name, p in model.named_parameters() if f".{ADAPTER_ATTRIBUTE}." in f".{name}"}
