"""Any ``transformers`` causal LM: a checkpoint (path or hub name) or a random init from a config."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
QUANTIZATIONS = (None, "4bit", "8bit")


def build_llm(name_or_path: str | None = None, config: dict[str, Any] | None = None, model_type: str = "llama",
              dtype: str = "float32", trust_remote_code: bool = False, attn_implementation: str | None = None,
              quantization: str | None = None, gradient_checkpointing: bool = False,
              overrides: dict[str, Any] | None = None, keep_experts: int | list[int] | None = None,
              device: str | None = None) -> PreTrainedModel:
    """Load ``name_or_path`` or build ``model_type`` from ``config`` with random weights.

    ``overrides`` are config fields set over the checkpoint's (or ``config``'s) own, e.g. a MoE's
    ``num_experts_per_tok`` or ``router_aux_loss_coef``. ``keep_experts`` prunes a MoE to those
    experts (see :func:`prune_experts`). ``quantization`` ("4bit"/"8bit", bitsandbytes) is for
    single-GPU debugging of big checkpoints. ``device="meta"`` builds real-size shapes without memory.
    """
    if dtype not in DTYPES:
        raise ValueError(f"model.llm.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"model.llm.quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    kwargs: dict[str, Any] = {"dtype": DTYPES[dtype], "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if name_or_path:
        if quantization:
            kwargs.update(quantized_loading(quantization, dtype))
        llm_config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        _override(llm_config, overrides or {})
        misfit = f"model.llm: {name_or_path} does not fit its config (overrides: {overrides})"
        try:
            model, info = AutoModelForCausalLM.from_pretrained(name_or_path, config=llm_config,
                                                               output_loading_info=True, **kwargs)
        except RuntimeError as e:  # weights of another shape (transformers prints the report above)
            raise ValueError(f"{misfit}: weights of another shape") from e
        if info.get("missing_keys"):  # never train on silently re-initialised weights
            raise ValueError(f"{misfit}: {len(info['missing_keys'])} weights missing, "
                             f"e.g. {sorted(info['missing_keys'])[:3]}")
    else:
        if config is None:
            raise ValueError("model.llm needs name_or_path (a checkpoint) or config (random init)")
        if quantization:
            raise ValueError("model.llm.quantization needs a checkpoint (name_or_path)")
        llm_config = AutoConfig.for_model(model_type, **config)
        _override(llm_config, overrides or {})
        with torch.device(device or "cpu"):
            model = AutoModelForCausalLM.from_config(llm_config, **kwargs)
    if keep_experts is not None:
        try:
            prune_experts(model, keep_experts)
        except ValueError as e:
            raise ValueError(f"model.llm.keep_experts: {e}") from e
    if gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    return model


def quantized_loading(quantization: str, dtype: str) -> dict[str, Any]:
    """``from_pretrained`` arguments that load the base through bitsandbytes (4-bit NF4 or 8-bit) onto
    the current GPU; a clear error without one (bitsandbytes' k-bit training kernels are CUDA's)."""
    if not torch.cuda.is_available():
        raise ValueError(f"model.llm.quantization={quantization} needs a CUDA GPU (bitsandbytes); "
                         "use model.llm.quantization=null on CPU (LoRA alone works there)")
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit",
                                bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=DTYPES[dtype] if dtype != "float32" else torch.bfloat16)
    return {"quantization_config": config, "device_map": {"": torch.cuda.current_device()}}


def _override(llm_config: Any, overrides: dict[str, Any]) -> None:
    unknown = sorted(k for k in overrides if not hasattr(llm_config, k))
    if unknown:
        raise ValueError(f"model.llm.overrides: {unknown} are not fields of {type(llm_config).__name__}")
    for key, value in overrides.items():
        setattr(llm_config, key, value)
    experts = getattr(llm_config, "num_local_experts", None)
    active = getattr(llm_config, "num_experts_per_tok", None)
    if experts is not None and active is not None and not 1 <= active <= experts:
        raise ValueError(f"model.llm.overrides.num_experts_per_tok: must be in [1, {experts}], got {active}")


def _moe_blocks(model: PreTrainedModel) -> list[torch.nn.Module]:
    """The sparse MoE blocks: a router (``gate``) and stacked expert weights (``experts``)."""
    blocks = [m for m in model.modules() if hasattr(m, "gate") and hasattr(m, "experts") and hasattr(m, "top_k")]
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no mixture-of-experts blocks")
    return blocks


def set_active_experts(model: PreTrainedModel, k: int) -> None:
    """Route every token to its top ``k`` experts (the paper's 1..8 activated-experts study)."""
    experts = int(model.config.num_local_experts)
    if not 1 <= k <= experts:
        raise ValueError(f"active experts must be in [1, {experts}], got {k}")
    for block in _moe_blocks(model):
        block.top_k = block.gate.top_k = k
    model.config.num_experts_per_tok = k
    if hasattr(model, "num_experts_per_tok"):
        model.num_experts_per_tok = k  # the CausalLM head's copy, used for the router loss


def prune_experts(model: PreTrainedModel, keep: int | list[int]) -> list[int]:
    """Keep only some experts in every MoE layer: ``k`` keeps experts ``0..k-1``, a list keeps those indices.

    The router rows and stacked expert weights of the others are dropped; tokens route among the
    kept ones, with at most as many active experts as remain. Returns the kept indices.
    """
    total = int(model.config.num_local_experts)
    indices = list(range(keep)) if isinstance(keep, int) else sorted(set(int(i) for i in keep))
    if not indices or indices[0] < 0 or indices[-1] >= total:
        raise ValueError(f"needs 1..{total} experts within [0, {total - 1}], got {keep}")
    index = torch.tensor(indices)
    for block in _moe_blocks(model):
        gate, experts = block.gate, block.experts
        gate.weight = torch.nn.Parameter(gate.weight.data[index.to(gate.weight.device)].clone())  # (kept, hidden)
        for name, param in list(experts.named_parameters(recurse=False)):  # (experts, ...) stacked weights
            setattr(experts, name, torch.nn.Parameter(param.data[index.to(param.device)].clone()))
        gate.num_experts = experts.num_experts = len(indices)
    model.config.num_local_experts = len(indices)
    if hasattr(model, "num_experts"):
        model.num_experts = len(indices)
    set_active_experts(model, min(int(model.config.num_experts_per_tok), len(indices)))
    return indices


def is_mixture_of_experts(model: PreTrainedModel) -> bool:
    """True for LMs that return a router auxiliary loss (Mixtral, Qwen-MoE, ...)."""
    return hasattr(model.config, "router_aux_loss_coef") and hasattr(model.config, "output_router_logits")
