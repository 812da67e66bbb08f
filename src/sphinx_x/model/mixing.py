"""SPHINX's weight mixing: theta = beta * theta_A + (1 - beta) * theta_B for two models fine-tuned from
the same base (the paper mixes an LLM tuned on real-domain data with one tuned on synthetic data).

Both inputs are exported folders (``model.safetensors`` + ``sphinx_config.json`` + processor). They
must share the architecture (the model config's llm / encoders / vision / tiling), the tokenizer and
the base they were trained from (``model.init_from``, or the LLM checkpoint ``model.llm.name_or_path``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sphinx_x.model.init_from import EXPORT_CONFIG, EXPORT_WEIGHTS, export_files

ARCHITECTURE_FIELDS = ("llm", "encoders", "vision", "tiling")
SCOPES = ("llm", "all")  # llm: the paper's (the language model's weights); all: every floating-point weight
PROCESSOR_FILES = ("processor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass
class MixReport:
    beta: float
    scope: str
    mixed: int  # tensors interpolated
    kept_from_a: list[str] = field(default_factory=list)  # outside the scope and different in B: A's are kept


def read_export(path: str | Path, field: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    weights, config = export_files(path, field)
    return load_file(str(weights)), json.loads(config.read_text())


def check_mixable(a: Path, b: Path, config_a: dict[str, Any], config_b: dict[str, Any],
                  state_a: dict[str, torch.Tensor], state_b: dict[str, torch.Tensor]) -> str:
    """Same architecture, tokenizer and base, or a ValueError naming what differs; returns the base."""
    model_a, model_b = config_a["model"], config_b["model"]
    for name in ARCHITECTURE_FIELDS:
        if model_a.get(name) != model_b.get(name):
            raise ValueError(f"model.{name} differs between {a} and {b}: not the same architecture")
    for name in PROCESSOR_FILES:
        file_a, file_b = a / name, b / name
        if file_a.is_file() != file_b.is_file() or file_a.is_file() and file_a.read_bytes() != file_b.read_bytes():
            raise ValueError(f"{name} differs between {a} and {b}: not the same tokenizer / preprocessing")
    base_a, base_b = _base(model_a), _base(model_b)
    if base_a is None or base_b is None:
        raise ValueError(f"cannot tell that {a} and {b} were trained from the same base: train both with "
                         "model.init_from=<the base export> (or from one LLM checkpoint, model.llm.name_or_path)")
    if base_a != base_b:
        raise ValueError(f"{a} starts from {base_a} but {b} from {base_b}: weights of different bases do not mix")
    if set(state_a) != set(state_b):
        only = sorted(set(state_a) ^ set(state_b))
        raise ValueError(f"{a} and {b} hold different weights, e.g. {only[:3]}")
    shapes = [k for k in state_a if state_a[k].shape != state_b[k].shape]
    if shapes:
        raise ValueError(f"{shapes[0]} is {tuple(state_a[shapes[0]].shape)} in {a} but "
                         f"{tuple(state_b[shapes[0]].shape)} in {b}")
    return base_a


def _base(model: dict[str, Any]) -> str | None:
    if model.get("init_from"):
        return f"model.init_from={Path(model['init_from']).resolve()}"
    name = (model.get("llm") or {}).get("name_or_path")
    return f"model.llm.name_or_path={name}" if name else None


def mix_exports(a: str | Path, b: str | Path, beta: float, out: str | Path, scope: str = "llm") -> MixReport:
    """Write ``out``: A's export with its weights in ``scope`` replaced by beta * A + (1 - beta) * B."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"--beta must be in [0, 1], got {beta}")
    if scope not in SCOPES:
        raise ValueError(f"--scope must be one of {list(SCOPES)}, got {scope!r}")
    a, b, out = Path(a), Path(b), Path(out)
    state_a, config_a = read_export(a, "A")
    state_b, config_b = read_export(b, "B")
    base = check_mixable(a, b, config_a, config_b, state_a, state_b)
    report = MixReport(beta, scope, 0)
    mixed: dict[str, torch.Tensor] = {}
    for key, value in state_a.items():
        other = state_b[key]
        if value.is_floating_point() and (scope == "all" or key.startswith("llm.")):
            mixed[key] = (beta * value.float() + (1.0 - beta) * other.float()).to(value.dtype)
            report.mixed += 1
        else:
            mixed[key] = value
            if not torch.equal(value, other):
                report.kept_from_a.append(key)
    out.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out / EXPORT_WEIGHTS))
    config = {"model": config_a["model"], "mixed_from": {"a": str(a.resolve()), "b": str(b.resolve()), "beta": beta,
                                                          "scope": scope, "base": base}}
    (out / EXPORT_CONFIG).write_text(json.dumps(config, indent=2))
    for path in a.iterdir():  # the processor and tokenizer files, as A has them
        if path.is_file() and path.name not in (EXPORT_WEIGHTS, EXPORT_CONFIG):
            shutil.copy(path, out / path.name)
    return report
