"""Build SPHINX-X parts from the Hydra ``model`` config (see sphinx_x/conf/model/)."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from sphinx_x.data.tiling import VisualLayout, expert_configs, query_expert_configs
from sphinx_x.data.visual_tokens import projector_spec
from sphinx_x.model.adapters import add_adapters
from sphinx_x.model.encoders import ConvNeXtEncoder, HFViTEncoder, VisionEncoder
from sphinx_x.model.llm import build_llm
from sphinx_x.model.lora import apply_lora, seeded_base
from sphinx_x.model.mov import MixtureOfVisualExperts
from sphinx_x.model.partial_lora import apply_partial_lora
from sphinx_x.model.qformer import QFormerEncoder
from sphinx_x.model.sphinx import SphinxX
from sphinx_x.safe_loading import UnsafeLoadError

# The only classes an encoder config's ``_target_`` may name: a config (e.g. an export's
# sphinx_config.json) is data, so nothing is imported or called by the name it gives.
ENCODER_CLASSES: dict[str, type[VisionEncoder]] = {
    f"{cls.__module__}.{cls.__qualname__}": cls for cls in (ConvNeXtEncoder, HFViTEncoder, QFormerEncoder)}


def build_encoder(name: str, cfg: DictConfig, device: str | None = None) -> VisionEncoder:
    """One encoder from ``model.encoders.<name>``: ``_target_`` must be one of :data:`ENCODER_CLASSES`,
    the other fields are its keyword arguments as plain data (Hydra's ``_args_``, ``_partial_``, ... and
    nested ``_target_``s are refused)."""
    kwargs: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    target = kwargs.pop("_target_", None)
    if not isinstance(target, str) or target not in ENCODER_CLASSES:
        raise UnsafeLoadError(f"model.encoders.{name}._target_: {str(target)[:120]!r} is not an encoder class "
                              f"of this project; use one of {sorted(ENCODER_CLASSES)}")
    special = _special_key(kwargs, f"model.encoders.{name}")
    if special:
        raise UnsafeLoadError(f"{special}: Hydra instantiation keys are not allowed in an encoder config "
                              "(encoders are built from plain data)")
    return ENCODER_CLASSES[target](**kwargs, device=device)


def _special_key(value: Any, where: str) -> str | None:
    """The first ``_name_`` key (``_target_``, ``_args_``, ...) anywhere in ``value``, as a dotted path."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and len(key) > 2 and key.startswith("_") and key.endswith("_"):
                return f"{where}.{key}"
            found = _special_key(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _special_key(item, f"{where}[{i}]")
            if found:
                return found
    return None


def build_vision(model_cfg: DictConfig, out_dim: int, device: str | None = None) -> MixtureOfVisualExperts:
    """Frozen experts + projector (``model.projector``). Randomly initialised experts (no weights given)
    are drawn from a fixed seed, so a checkpoint without them rebuilds the very same encoders."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(model_cfg.get("vision_init_seed", 0)))
        experts: dict[str, VisionEncoder] = {
            name: build_encoder(name, cfg, device) for name, cfg in expert_configs(model_cfg).items()}
        queries: dict[str, VisionEncoder] = {
            name: build_encoder(name, cfg, device) for name, cfg in query_expert_configs(model_cfg).items()}
    with torch.device(device or "cpu"):
        return MixtureOfVisualExperts(experts, out_dim=out_dim, token_grid=int(model_cfg.encoders.token_grid),
                                      freeze=bool(model_cfg.freeze_vision), query_experts=queries,
                                      projector=projector_spec(model_cfg))


def build_sphinx(model_cfg: DictConfig, vocab_size: int | None = None, device: str | None = None,
                 load_init: bool = True) -> SphinxX:
    """The whole model; ``vocab_size`` (the tokenizer's length) resizes the LLM embeddings if needed.

    With ``model.init_from`` (an exported folder, e.g. a converted release) its weights are loaded
    over the built ones (``load_init=False`` leaves that to the caller).
    """
    llm_kwargs: dict[str, Any] = OmegaConf.to_container(model_cfg.llm, resolve=True)  # type: ignore[assignment]
    lora = llm_kwargs.pop("lora", None)
    adapters = llm_kwargs.pop("adapters", None)
    with seeded_base(lora):  # LoRA: the frozen base is rebuilt, never saved
        llm = build_llm(**llm_kwargs, device=device)
        if vocab_size is not None and vocab_size > llm.get_input_embeddings().num_embeddings:
            llm.resize_token_embeddings(vocab_size, mean_resizing=False)
    llm = apply_lora(llm, lora, llm_kwargs.get("quantization"), bool(llm_kwargs.get("gradient_checkpointing")))
    width = llm.get_input_embeddings().embedding_dim
    vision = build_vision(model_cfg, width, device=device)  # first: it refuses an encoder config it cannot trust
    layout = VisualLayout.from_model_config(model_cfg)
    model = SphinxX(llm, vision,
                    newline=bool(getattr(layout, "row_newline", False)),
                    separator=bool(getattr(layout, "view_separator", False)))
    if not model_cfg.train_llm:
        model.llm.requires_grad_(False)
    # IXC-2.5: before the adapters (only the LLM's own linear layers), after the freeze (trains either way)
    model.visual_positions = apply_partial_lora(model.llm, _plain_or_none(model_cfg.get("partial_lora")))
    add_adapters(model.llm, adapters)  # Lynx: after the freeze, so they train either way
    if load_init and device != "meta" and model_cfg.get("init_from"):
        from sphinx_x.model.init_from import check_llm_config, load_init_weights

        check_llm_config(OmegaConf.to_container(model_cfg.llm, resolve=True), model_cfg.init_from)
        load_init_weights(model, model_cfg.init_from, llm_from_checkpoint=bool(model_cfg.llm.get("name_or_path")))
    return model


def _plain_or_none(value: Any) -> Any:
    """A config node as plain data (resolved); anything else as it is."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
