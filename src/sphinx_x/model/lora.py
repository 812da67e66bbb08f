"""LoRA adapters (peft) on the LLM: inject, prepare a k-bit base, merge back for export.

Adapters are injected in place (``peft.inject_adapter_in_model``), so ``SphinxX.llm`` stays the
``transformers`` model (``generate``, ``_no_split_modules``, the config) and only the adapters are
trainable: checkpoints then hold adapters + projector + special embeddings. The frozen base is
rebuilt from the config on load, so a random-init or resized base is drawn from a fixed seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
LORA_FIELDS = ("r", "alpha", "dropout", "target_modules")
BASE_INIT_SEED = 0  # seed of a LoRA run's random-init base and resized embedding rows (rebuilt, never saved)


def lora_settings(lora: dict[str, Any] | None) -> dict[str, Any] | None:
    """``model.llm.lora`` checked and completed (``None``: LoRA off); errors name the field."""
    if lora is None:
        return None
    if not isinstance(lora, dict):
        raise ValueError(f"model.llm.lora: must be null or a mapping with {list(LORA_FIELDS)}, got {lora!r}")
    unknown = sorted(set(lora) - set(LORA_FIELDS))
    if unknown:
        raise ValueError(f"model.llm.lora: unknown fields {unknown}; allowed {list(LORA_FIELDS)}")
    r = lora.get("r", 8)
    alpha = lora.get("alpha", 2 * r if isinstance(r, int) else 16)
    dropout = lora.get("dropout", 0.0)
    targets = lora.get("target_modules") or list(DEFAULT_TARGETS)
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"model.llm.lora.r: must be an integer >= 1, got {r!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
        raise ValueError(f"model.llm.lora.alpha: must be a number > 0, got {alpha!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"model.llm.lora.dropout: must be in [0, 1), got {dropout!r}")
    if isinstance(targets, str):
        targets = [targets]
    if not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"model.llm.lora.target_modules: must be module names, got {targets!r}")
    return {"r": r, "alpha": float(alpha), "dropout": float(dropout), "target_modules": list(targets)}


@contextmanager
def seeded_base(lora: dict[str, Any] | None) -> Iterator[None]:
    """With LoRA on, draw the base LLM's random weights (a random init, resized embedding rows) from
    :data:`BASE_INIT_SEED`: they are frozen and not saved, so every build must give the same ones.
    Without LoRA this does nothing (the global RNG as before)."""
    if lora is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BASE_INIT_SEED)
        yield


def apply_lora(llm: nn.Module, lora: dict[str, Any] | None, quantization: str | None = None,
               gradient_checkpointing: bool = False) -> nn.Module:
    """Inject LoRA adapters into ``llm`` (in place; returned); everything else in it is frozen.

    A k-bit (bitsandbytes) base is first prepared with ``peft.prepare_model_for_kbit_training``
    (norms in float32, input gradients on for checkpointing).
    """
    settings = lora_settings(lora)
    if settings is None:
        return llm
    from peft import LoraConfig, inject_adapter_in_model, prepare_model_for_kbit_training

    if quantization:
        llm = prepare_model_for_kbit_training(llm, use_gradient_checkpointing=gradient_checkpointing,
                                              gradient_checkpointing_kwargs={"use_reentrant": False})
    names = {name.rsplit(".", 1)[-1] for name, _ in llm.named_modules()}
    absent = sorted(set(settings["target_modules"]) - names)
    if absent:
        raise ValueError(f"model.llm.lora.target_modules: {absent} are not modules of {type(llm).__name__}")
    config = LoraConfig(r=settings["r"], lora_alpha=settings["alpha"], lora_dropout=settings["dropout"],
                        target_modules=settings["target_modules"], bias="none")
    inject_adapter_in_model(config, llm)
    for name, param in llm.named_parameters():
        param.requires_grad_("lora_" in name)
    return llm


def has_lora(model: nn.Module) -> bool:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


def merge_lora(llm: nn.Module) -> int:
    """Fold every adapter into its base layer and put the plain layer back; returns how many.

    A 4-bit base is refused (its merged weights would have to be re-quantised, losing the adapters'
    update): export from a bf16/fp32 base, e.g. by loading the run with ``quantization: null``.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    if getattr(llm, "is_loaded_in_4bit", False) or any(
            type(m).__name__ == "Linear4bit" for m in llm.modules()):
        raise ValueError("model.llm.quantization: cannot merge LoRA adapters into a 4-bit base; export with "
                         "model.llm.quantization=null (the bf16 base) instead")
    merged = 0
    for name, module in list(llm.named_modules()):
        if not isinstance(module, BaseTunerLayer):
            continue
        module.merge()
        parent_name, _, child = name.rpartition(".")
        setattr(llm.get_submodule(parent_name) if parent_name else llm, child, module.get_base_layer())
        merged += 1
    return merged
