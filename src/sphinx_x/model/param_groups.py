"""Optimiser parameter groups: weight decay by kind, and the per-part learning rates of IXC-2.5.

- ``optim.llm_lr_scale`` (IXC-2.5: 0.2): the LLM's own weights (and its peft LoRA) train at ``lr x scale``;
  modules added around it (projector, start/end/skip/newline/separator embeddings, partial LoRA,
  adapters) keep ``lr``.
- ``optim.vision_layer_decay`` (IXC-2.5: 0.9): a trainable vision encoder (``model.freeze_vision=false``)
  gets layer-wise decay: with ``L`` blocks, block ``k`` (1..L) trains at ``lr x decay^(L + 1 - k)``, what
  comes before the blocks (patch embedding) at ``decay^(L + 1)`` and what comes after (final norm) at
  ``lr``. The blocks are the children of the encoder's largest stack of repeated modules (a ViT's
  layers, a ConvNeXt's stages).

With both at 1.0 the groups are the two of before (decay, no decay), in the same order, so optimiser
states of earlier checkpoints still load.
"""

from __future__ import annotations

from typing import Any

from torch import nn

BASE = "base"
# what FSDP and activation-checkpoint wrappers insert into parameter names (their modules are wrapped in place)
WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.")


def unwrapped_name(name: str) -> str:
    """A parameter's name as the unwrapped model spells it."""
    for prefix in WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def block_stack(encoder: nn.Module) -> tuple[str, int] | None:
    """(dotted name, block count) of ``encoder``'s stack of >= 2 modules of one type (a ModuleList or
    Sequential) with the most parameters (the outer one of nested stacks); None when it has none."""
    best: tuple[int, str, int] | None = None
    for name, module in encoder.named_modules():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)):
            continue
        children = list(module.children())
        if len(children) < 2 or len({type(c) for c in children}) != 1:
            continue
        size = sum(p.numel() for p in module.parameters())
        if best is None or size > best[0]:
            best = (size, name, len(children))
    return None if best is None else (best[1], best[2])


def vision_layers(encoder: nn.Module) -> tuple[dict[str, int], int]:
    """Parameter name (within ``encoder``) -> its depth (0 before the blocks, 1..L the blocks, L + 1
    after them), and L. An encoder without a block stack is one block (everything at depth 1)."""
    names = [name for name, _ in encoder.named_parameters()]
    stack = block_stack(encoder)
    if stack is None:
        return dict.fromkeys(names, 1), 1
    prefix, blocks = stack
    layers: dict[str, int] = {}
    seen_block = False
    for name in names:
        if name.startswith(f"{prefix}."):
            layers[name] = int(name[len(prefix) + 1:].split(".", 1)[0]) + 1
            seen_block = True
        else:
            layers[name] = blocks + 1 if seen_block else 0
    return layers, blocks


def parameter_groups(model: Any, lr: float, weight_decay: float, llm_lr_scale: float = 1.0,
                     vision_layer_decay: float = 1.0) -> list[dict[str, Any]]:
    """AdamW groups over ``model``'s trainable parameters (a :class:`~sphinx_x.model.sphinx.SphinxX`).

    Each group has ``name`` (``base``, ``llm``, ``vision.<expert>.<depth>``, with ``/no_decay`` for
    biases, norms and the special embeddings), ``lr`` and ``weight_decay``.
    """
    own_llm = getattr(model, "llm_own_parameters", frozenset())
    vision_depth: dict[str, tuple[str, int, float]] = {}  # parameter -> (expert, depth, lr multiplier)
    vision = getattr(model, "vision", None)
    for attr in ("experts", "query_experts"):
        for expert_name, expert in (getattr(vision, attr, None) or {}).items():
            layers, blocks = vision_layers(expert)
            for name, layer in layers.items():
                name = unwrapped_name(name)
                vision_depth[f"vision.{attr}.{expert_name}.{name}"] = (
                    expert_name, layer, vision_layer_decay ** (blocks + 1 - layer))
    groups: dict[str, dict[str, Any]] = {}
    for suffix, decay in (("", weight_decay), ("/no_decay", 0.0)):  # the base groups always exist, first
        groups[BASE + suffix] = {"name": BASE + suffix, "params": [], "lr": lr, "weight_decay": decay}
    for wrapped_name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        name = unwrapped_name(wrapped_name)
        if name in vision_depth:
            expert, layer, scale = vision_depth[name]
            part = f"vision.{expert}.layer{layer}"
        elif name.startswith("llm.") and name[len("llm."):] in own_llm:
            scale, part = llm_lr_scale, "llm"
        else:
            scale, part = 1.0, BASE
        if scale == 1.0:
            part = BASE
        no_decay = param.ndim < 2 or name.endswith("_embed")
        key = part + ("/no_decay" if no_decay else "")
        group = groups.setdefault(key, {"name": key, "params": [], "lr": lr * scale,
                                        "weight_decay": 0.0 if no_decay else weight_decay})
        group["params"].append(param)
    return list(groups.values())
