"""The packaged Hydra configs, and start-up validation of the composed config (fail fast, naming the field)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from importlib import resources
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf

from sphinx_x.data.datamodule import source_specs
from sphinx_x.data.mixture import mixture_weights
from sphinx_x.data.templates import TEMPLATES
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.data.video import VideoSettings
from sphinx_x.runtime.config_types import type_errors

# Room a sample needs beside its image: template, system line, a short question and answer.
MIN_TURN_TOKENS = 64
CONF_PACKAGE = "sphinx_x.conf"  # Hydra: config_path="pkg://sphinx_x.conf" or initialize_config_module(CONF_PACKAGE)
STRATEGIES = ("auto", "ddp", "fsdp", "deepspeed")
LOGGERS = ("csv", "wandb")


def load_conf_file(name: str) -> DictConfig:
    """One packaged YAML file, e.g. ``chat.yaml`` or ``data/source/coco.yaml`` (no defaults list composed)."""
    return OmegaConf.create((resources.files(CONF_PACKAGE) / name).read_text(encoding="utf-8"))


T = TypeVar("T")


class ConfigError(ValueError):
    """A config field with a value that cannot work."""


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{field}: {message}")


def _choice(value: object, field: str, allowed: tuple) -> None:
    _check(value in allowed, field, f"must be one of {list(allowed)}, got {value!r}")


def validate_config(cfg: DictConfig) -> None:
    """Check every field that would otherwise fail hours into a run.

    First every field's type (:data:`~sphinx_x.runtime.config_types.FIELDS`; all wrong ones named in one
    error), then the values. The structured parts (visual layout, source specs, mixture weights) are validated by building
    them, so each rule lives in one place; their errors become one :class:`ConfigError`.
    """
    errors = type_errors(cfg)
    if errors:
        raise ConfigError("; ".join(errors))
    data, model, optim, trainer = cfg.data, cfg.model, cfg.optim, cfg.trainer
    _check(int(data.micro_batch_size) >= 1, "data.micro_batch_size", "must be >= 1")
    _check(data.num_samples is None or int(data.num_samples) >= 1, "data.num_samples",
           "must be >= 1, or null for one pass over the mixture at its sources' sizes")
    _check(int(data.num_workers) >= 0, "data.num_workers", "must be >= 0")
    _check(cfg.get("num_threads") is None or int(cfg.num_threads) >= 1, "num_threads", "must be >= 1, or null")
    max_tokens = data.get("max_tokens_per_batch")
    _check(max_tokens is None or bool(data.packing), "data.max_tokens_per_batch",
           "fills rows of packed samples: needs data.packing=true")
    _check(max_tokens is None or int(max_tokens) >= int(data.max_length), "data.max_tokens_per_batch",
           f"{max_tokens} is less than one row of data.max_length = {data.max_length} tokens")
    _check(int(data.get("pack_buffer", 1)) >= 1, "data.pack_buffer", "must be >= 1")
    _check(data.max_image_pixels is None or int(data.max_image_pixels) >= 1, "data.max_image_pixels",
           "must be >= 1, or null for no limit")
    _check(0 <= float(data.val_fraction) < 1, "data.val_fraction", "must be in [0, 1)")
    _choice(data.template, "data.template", TEMPLATES)
    video = data.get("video")
    checked_build("data.video", lambda: VideoSettings.from_config(
        OmegaConf.to_container(video, resolve=True) if OmegaConf.is_config(video) else video))
    _check(model.llm.name_or_path is not None or model.llm.config is not None, "model.llm",
           "needs name_or_path (a checkpoint) or config (random init)")
    layout = checked_build("model", lambda: VisualLayout.from_model_config(model))
    needed = layout.max_slots + MIN_TURN_TOKENS
    _check(int(data.max_length) >= needed, "data.max_length",
           f"{data.max_length} cannot hold {_largest_image(layout)} plus a minimal turn ({MIN_TURN_TOKENS} "
           f"tokens): use >= {needed}")
    specs = checked_build("data.sources", lambda: source_specs(data))
    checked_build("data.weighting", lambda: mixture_weights([s.size or 1 for s in specs], [s.weight for s in specs],
                                                     data.weighting, float(data.temperature)))
    _check(float(optim.lr) > 0, "optim.lr", "must be > 0")
    _check(0 <= float(optim.warmup_epochs) <= 1, "optim.warmup_epochs", "must be a fraction of an epoch in [0, 1]")
    _check(len(optim.betas) == 2, "optim.betas", "needs two values")
    _check(float(optim.get("llm_lr_scale", 1.0)) > 0, "optim.llm_lr_scale", "must be > 0 (1.0: the LLM at optim.lr)")
    _check(0 < float(optim.get("vision_layer_decay", 1.0)) <= 1, "optim.vision_layer_decay",
           "must be in (0, 1] (1.0: no decay)")
    _choice(cfg.strategy.name, "strategy.name", STRATEGIES)
    _check(cfg.strategy.name != "deepspeed" or trainer.accelerator != "cpu", "strategy.name",
           f"{cfg.strategy.name} needs a GPU: use trainer=gpu (trainer.accelerator is {trainer.accelerator!r}); "
           "on CPU use auto, ddp or fsdp (gloo)")
    validate_lora(cfg)
    validate_adapters(cfg)
    validate_partial_lora(cfg)
    requeue_signal(cfg.get("requeue_signal"))
    _choice(cfg.logger.name, "logger.name", LOGGERS)
    devices = trainer.devices
    _check(isinstance(devices, int) and devices >= 1, "trainer.devices", f"must be a positive integer, got {devices!r}")
    accumulation(cfg)


def validate_lora(cfg: DictConfig) -> None:
    """``model.llm.lora`` (peft adapters) and ``model.llm.quantization`` (bitsandbytes, GPU only)."""
    from sphinx_x.model.lora import lora_settings

    llm = cfg.model.llm
    lora_cfg = llm.get("lora")
    lora = checked_build("model.llm.lora", lambda: lora_settings(
        OmegaConf.to_container(lora_cfg, resolve=True) if OmegaConf.is_config(lora_cfg) else lora_cfg))
    quantization = llm.get("quantization")
    _choice(quantization, "model.llm.quantization", (None, "4bit", "8bit"))
    _check(quantization is None or cfg.trainer.accelerator != "cpu", "model.llm.quantization",
           f"{quantization} loads through bitsandbytes and needs a GPU: use trainer=gpu, or "
           "model.llm.quantization=null on CPU (LoRA alone works there)")
    _check(quantization is None or lora is not None or not cfg.model.train_llm, "model.llm.quantization",
           f"a {quantization} base cannot be trained directly: set model.llm.lora (QLoRA) or model.train_llm=false")
    _check(quantization is None or not cfg.model.get("init_from"), "model.init_from",
           f"cannot load an export into a {quantization} base: save its LLM as a transformers checkpoint and "
           "name it in model.llm.name_or_path (bitsandbytes quantises while loading)")
    _check(lora is None or bool(cfg.model.train_llm), "model.llm.lora",
           "adapters are trained with the LLM: needs model.train_llm=true")


def validate_adapters(cfg: DictConfig) -> None:
    """``model.llm.adapters`` (Lynx's adapters after every M-th decoder layer; null: off)."""
    from sphinx_x.model.adapters import adapter_settings

    adapters = cfg.model.llm.get("adapters")
    checked_build("model.llm.adapters", lambda: adapter_settings(
        OmegaConf.to_container(adapters, resolve=True) if OmegaConf.is_config(adapters) else adapters))


def validate_partial_lora(cfg: DictConfig) -> None:
    """``model.partial_lora`` (IXC-2.5): its fields, and a base it can wrap (plain linear layers)."""
    from sphinx_x.model.partial_lora import partial_lora_settings

    raw = cfg.model.get("partial_lora")
    settings = checked_build("model.partial_lora", lambda: partial_lora_settings(
        OmegaConf.to_container(raw, resolve=True) if OmegaConf.is_config(raw) else raw))
    if settings is None:
        return
    llm = cfg.model.llm
    _check(llm.get("quantization") is None, "model.partial_lora",
           f"wraps plain linear layers: not a {llm.get('quantization')} base (model.llm.quantization=null)")
    _check(llm.get("lora") is None, "model.partial_lora",
           "and model.llm.lora would adapt the same layers: choose one (model.llm.lora=null)")


def _largest_image(layout: VisualLayout) -> str:
    """The image that takes the most slots, for messages."""
    max_tiles = getattr(layout, "max_tiles", None)  # the dynamic partition: one column of max_tiles tiles
    if max_tiles:
        return f"the largest image ({layout.max_slots} visual slots at {max_tiles} tiles in one column)"
    return f"a square image ({layout.max_slots} visual slots at {layout.grid}x{layout.grid} tiles)"


def requeue_signal(name: str | None) -> int | None:
    """``requeue_signal`` (``USR2``, ``SIGUSR1``, ...) -> its number; None (off) stays None."""
    if name is None:
        return None
    full = name if name.startswith("SIG") else f"SIG{name}"
    if not hasattr(signal, full):
        raise ConfigError(f"requeue_signal: {name!r} is not a signal name (e.g. USR2, the one submitit asks for)")
    return int(getattr(signal, full))


def checked_build(field: str, build: Callable[[], T]) -> T:
    """Build a part of the run; its ``ValueError`` becomes a ConfigError that names the field."""
    try:
        return build()
    except (ValueError, TypeError, KeyError) as e:
        message = str(e).strip("'\"")
        raise ConfigError(message if message.startswith(f"{field.split('.')[0]}.") else f"{field}: {message}") from e


def accumulation(cfg: DictConfig) -> int:
    """Gradient-accumulation steps that turn micro-batches on all devices into ``global_batch_size``."""
    per_step = int(cfg.data.micro_batch_size) * int(cfg.trainer.devices) * int(cfg.trainer.num_nodes)
    total = int(cfg.global_batch_size)
    _check(total >= per_step and total % per_step == 0, "global_batch_size",
           f"{total} is not a multiple of micro_batch_size x devices x num_nodes = {per_step}")
    return total // per_step
