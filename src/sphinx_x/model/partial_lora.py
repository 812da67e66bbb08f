"""Partial LoRA (InternLM-XComposer-2 / 2.5): LoRA on the LLM's linear layers, applied only at the
positions that hold image slots, so text positions keep the LLM's own weights.

``model.partial_lora: {r: 256, alpha: 256, dropout: 0.0, target_modules: null}`` (null: off). Every
targeted ``nn.Linear`` becomes a :class:`PartialLoRALinear` that shares the original weight and bias
(the state-dict names stay ``...q_proj.weight``, so a checkpoint without partial LoRA still loads) and
adds ``plora_A`` / ``plora_B``. All of them read one :class:`VisualPositions`, which
``SphinxX.forward`` (and generation) sets from the batch's slot kinds before the LLM runs. ``plora_B``
starts at zero: the model starts as the LLM it wraps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PARTIAL_LORA_FIELDS = ("r", "alpha", "dropout", "target_modules")


class VisualPositions:
    """The image-slot mask of the sequence the LLM is running on, shared by every partial-LoRA layer.

    ``mask`` is (batch, length) bool. A layer whose input has another (batch, length) (a decoding step
    of generation: new tokens are text) applies no LoRA. The flat indices of the marked positions are
    found once per device and shared by all layers (one host sync per forward, not one per layer).
    """

    def __init__(self) -> None:
        self.mask: torch.Tensor | None = None
        self._index: dict[torch.device, torch.Tensor] = {}

    def set(self, mask: torch.Tensor | None) -> None:
        self.mask = mask
        self._index = {}

    def index_for(self, x: torch.Tensor) -> torch.Tensor | None:
        """Flat indices (into ``x`` viewed as (batch * length, features)) of the marked positions, when
        the mask describes ``x``; None when it does not or marks nothing."""
        mask = self.mask
        if mask is None or x.dim() != mask.dim() + 1 or x.shape[:-1] != mask.shape:
            return None
        if x.device not in self._index:
            self._index[x.device] = mask.to(x.device).flatten().nonzero().squeeze(1)
        index = self._index[x.device]
        return index if index.numel() else None


class PartialLoRALinear(nn.Linear):
    """``base(x)``, plus ``(alpha / r) * B(A(dropout(x)))`` at the positions ``positions`` marks visual."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float, positions: VisualPositions):
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight  # the same Parameters: names and values unchanged
        self.bias = base.bias
        self.r, self.scaling = r, alpha / r
        self.plora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype, device=base.weight.device))
        self.plora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype, device=base.weight.device))
        nn.init.kaiming_uniform_(self.plora_A, a=math.sqrt(5))  # as nn.Linear (and peft's LoRA A)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.positions = positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)  # (batch, length, out)
        index = self.positions.index_for(x)
        if index is None:
            return out
        visual = self.dropout(x.reshape(-1, x.shape[-1]).index_select(0, index))  # (visual positions, in)
        delta = F.linear(F.linear(visual, self.plora_A.to(x.dtype)), self.plora_B.to(x.dtype)) * self.scaling
        flat = out.reshape(-1, out.shape[-1])  # (batch * length, out)
        return flat.index_add(0, index, delta.to(out.dtype)).view_as(out)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, partial_lora_r={self.r}"


def partial_lora_settings(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    """``model.partial_lora`` checked and completed (``None``: off); errors name the field."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ValueError(f"model.partial_lora: must be null or a mapping with {list(PARTIAL_LORA_FIELDS)}, got {cfg!r}")
    unknown = sorted(set(cfg) - set(PARTIAL_LORA_FIELDS))
    if unknown:
        raise ValueError(f"model.partial_lora: unknown fields {unknown}; allowed {list(PARTIAL_LORA_FIELDS)}")
    r = cfg.get("r", 256)
    alpha = cfg.get("alpha", r)
    dropout = cfg.get("dropout", 0.0)
    targets = cfg.get("target_modules")
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"model.partial_lora.r: must be an integer >= 1, got {r!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha > 0:
        raise ValueError(f"model.partial_lora.alpha: must be a number > 0, got {alpha!r}")
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise ValueError(f"model.partial_lora.dropout: must be in [0, 1), got {dropout!r}")
    if isinstance(targets, str):
        targets = [targets]
    if targets is not None and not (targets and all(isinstance(t, str) and t for t in targets)):
        raise ValueError(f"model.partial_lora.target_modules: must be null (every linear layer of the decoder) "
                         f"or module names, got {targets!r}")
    return {"r": r, "alpha": float(alpha), "dropout": float(dropout), "target_modules": targets}


def apply_partial_lora(llm: nn.Module, cfg: dict[str, Any] | None) -> VisualPositions | None:
    """Wrap the targeted linear layers of ``llm`` in place; returns their shared :class:`VisualPositions`
    (None when ``cfg`` is None). Targets: ``target_modules`` by name, or every ``nn.Linear`` except the
    output head. The new weights are trainable whatever ``model.train_llm`` froze."""
    settings = partial_lora_settings(cfg)
    if settings is None:
        return None
    head = llm.get_output_embeddings() if hasattr(llm, "get_output_embeddings") else None
    names = settings["target_modules"]
    chosen = [(name, module) for name, module in llm.named_modules()
              if type(module) is nn.Linear and module is not head
              and (names is None or name.rsplit(".", 1)[-1] in names)]
    if names is not None:
        absent = sorted(set(names) - {name.rsplit(".", 1)[-1] for name, _ in chosen})
        if absent:
            raise ValueError(f"model.partial_lora.target_modules: {absent} are not nn.Linear modules of "
                             f"{type(llm).__name__}")
    if not chosen:
        raise ValueError(f"model.partial_lora: {type(llm).__name__} has no plain nn.Linear layer to adapt")
    positions = VisualPositions()
    for name, module in chosen:
        parent_name, _, child = name.rpartition(".")
        wrapped = PartialLoRALinear(module, settings["r"], settings["alpha"], settings["dropout"], positions)
        setattr(llm.get_submodule(parent_name) if parent_name else llm, child, wrapped)
        wrapped.plora_A.requires_grad_(True)
        wrapped.plora_B.requires_grad_(True)
    return positions
