"""``model.init_from``: start a model from an exported folder (a converted release, or any export).

An export is ``model.safetensors`` + ``sphinx_config.json`` + the processor's files (see
:meth:`sphinx_x.inference.SphinxInference.export`). Only the safetensors weights are read here; the
JSON config is read as data (to name the model it came from), never instantiated.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

EXPORT_WEIGHTS = "model.safetensors"
# LLM config fields that change what the weights compute (shapes are checked tensor by tensor)
COMPUTE_FIELDS = ("rms_norm_eps", "rope_theta", "rope_scaling", "rope_parameters", "hidden_act", "tie_word_embeddings",
                  "num_attention_heads", "num_key_value_heads", "head_dim", "num_local_experts")
EXPORT_CONFIG = "sphinx_config.json"
ENCODER_PREFIXES = ("vision.experts.", "vision.query_experts.")  # built from their own config (weights or seed)


def export_files(path: str | Path, field: str = "model.init_from") -> tuple[Path, Path]:
    """The weights and config files of an export folder; a clear error when it is not one."""
    folder = Path(path)
    weights, config = folder / EXPORT_WEIGHTS, folder / EXPORT_CONFIG
    if not folder.is_dir():
        raise FileNotFoundError(f"{field}: {folder} is not a folder (an exported or converted model)")
    for needed in (weights, config):
        if not needed.is_file():
            raise FileNotFoundError(f"{field}: {folder} has no {needed.name}: not an exported model "
                                    "(sphinx-x-export or sphinx-x-convert-accessory writes one)")
    return weights, config


def read_export_config(path: str | Path, field: str = "model.init_from") -> dict[str, Any]:
    """The ``model`` config an export was written with (plain JSON data)."""
    _, config = export_files(path, field)
    try:
        return dict(json.loads(config.read_text())["model"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{field}: {config} is not a valid export config ({e})") from e


def check_llm_config(llm_cfg: dict[str, Any], path: str | Path, field: str = "model.init_from") -> None:
    """The LLM config here must compute what the export's did: same model type and numerics."""
    theirs = read_export_config(path, field).get("llm") or {}
    if llm_cfg.get("name_or_path") or theirs.get("name_or_path"):
        return  # a checkpoint's own config decides there; the weights' shapes are still checked
    if theirs.get("model_type") and llm_cfg.get("model_type") != theirs.get("model_type"):
        raise ValueError(f"model.llm.model_type: {llm_cfg.get('model_type')!r} here, {theirs['model_type']!r} in {path}")
    ours_cfg, their_cfg = llm_cfg.get("config") or {}, theirs.get("config") or {}
    for key in COMPUTE_FIELDS:
        if key in ours_cfg and key in their_cfg and ours_cfg[key] != their_cfg[key]:
            raise ValueError(f"model.llm.config.{key}: {ours_cfg[key]!r} here but {their_cfg[key]!r} in {path}")


def load_init_weights(model: nn.Module, path: str | Path, keys: Collection[str] | None = None,
                      field: str = "model.init_from", llm_from_checkpoint: bool = False) -> list[str]:
    """Copy an export's weights into ``model``; returns the keys loaded.

    Without ``keys`` every weight in the export must belong to the model with the same shape, and
    every trainable weight of the model must be in the export, except the LLM's when it was built from
    a checkpoint (``llm_from_checkpoint``: e.g. stage 2 after a stage 1 that froze it); encoders absent
    from it (frozen, or trained from now on as in Lynx's stage 2) keep the weights their config built.
    With ``keys`` only those of them the export holds are loaded.
    """
    weights, _ = export_files(path, field)
    own = model.state_dict()
    with safe_open(str(weights), framework="pt") as handle:
        target = {k: _own_key(k, own) for k in handle.keys()}  # the export's key -> this model's
        stored = [k for k, mine in target.items() if mine is not None]
        if keys is None:
            unexpected = [k for k, mine in target.items() if mine is None]
            if unexpected:
                raise ValueError(f"{field}: {path} holds {len(unexpected)} weights this model lacks, e.g. "
                                 f"{unexpected[:3]}: it was exported from another model config")
            loaded = {target[k] for k in stored}
            trainable = [name for name, p in model.named_parameters() if p.requires_grad
                         and ".lora_" not in name]  # LoRA adapters start fresh over the export's LLM
            missing = [k for k in trainable if k not in loaded and not k.startswith(ENCODER_PREFIXES)
                       and not (llm_from_checkpoint and k.startswith("llm."))]
            if missing:
                raise ValueError(f"{field}: {path} lacks {len(missing)} trainable weights of this model, "
                                 f"e.g. {missing[:3]}")
            chosen = stored
        else:
            wanted = set(keys)
            chosen = [k for k in stored if target[k] in wanted]
        state: dict[str, torch.Tensor] = {}
        for key in chosen:
            tensor, mine = handle.get_tensor(key), target[key]
            if tuple(tensor.shape) != tuple(own[mine].shape):
                raise ValueError(f"{field}: {key} is {tuple(tensor.shape)} in {path} but "
                                 f"{tuple(own[mine].shape)} in this model config")
            state[mine] = tensor
    model.load_state_dict(state, strict=False)
    return chosen


def _own_key(key: str, own: Collection[str]) -> str | None:
    """Where an export's weight goes in this model: the same key, or the base layer a LoRA adapter wraps
    (``...q_proj.weight`` -> ``...q_proj.base_layer.weight``); ``None`` when the model lacks it."""
    if key in own:
        return key
    prefix, _, leaf = key.rpartition(".")
    wrapped = f"{prefix}.base_layer.{leaf}"
    return wrapped if wrapped in own else None
