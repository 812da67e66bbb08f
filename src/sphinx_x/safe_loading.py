"""Loading checkpoints and saved configs that may come from someone else, without running their code.

Training checkpoints are read with ``torch.load(weights_only=True)``: only tensors and plain data
(dicts, lists, numbers, strings) are unpickled, so a pickle that would call a function is refused
before anything runs. A checkpoint written by ``sphinx_x.train`` holds nothing else (the module saves
its hyper-parameters as plain dicts, the datamodule's state is dicts of ints), so no extra class is
registered with ``torch.serialization.add_safe_globals``. A saved LLM config that asks for
``trust_remote_code`` (modeling code from its checkpoint folder) is honoured only when the user says
so too (``--trust-remote-code`` or ``SPHINX_X_TRUST_REMOTE_CODE=1``).
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

TRUST_REMOTE_CODE_ENV = "SPHINX_X_TRUST_REMOTE_CODE"


class UnsafeLoadError(ValueError):
    """Refused: loading it could run code (a pickled object, a _target_ outside the allow-list, remote
    code not consented to), or it is not what it claims to be."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as plain data (``weights_only=True``); a clear error when it holds code."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:
            raise UnsafeLoadError(
                f"{path}: refused to load: the checkpoint holds a Python object ({found.group(1)}) besides tensors "
                "and plain data, and unpickling it could run code. This project's checkpoints hold only tensors, "
                "dicts, lists, numbers and strings; re-save the weights from a trusted copy if you made it") from None
        detail = re.search(r"Unsupported [^\n]*", str(error))
        raise UnsafeLoadError(f"{path}: not a readable checkpoint (torch.load with weights_only=True refused it"
                              f"{': ' + detail.group(0)[:120] if detail else ''})") from None
    except (RuntimeError, EOFError, OSError) as error:
        raise UnsafeLoadError(f"{path}: not a readable checkpoint "
                              f"({type(error).__name__}: {_last_line(error)})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict) or not isinstance(
            (checkpoint.get("hyper_parameters") or {}).get("model"), dict):
        raise UnsafeLoadError(f"{path}: not a sphinx_x training checkpoint (needs state_dict and "
                              "hyper_parameters.model)")
    return checkpoint


def check_remote_code(model_cfg: dict[str, Any], source: str | Path, allowed: bool | None = None) -> None:
    """Refuse a saved config that asks for ``trust_remote_code`` unless the user allows it
    (``allowed``; None: the ``SPHINX_X_TRUST_REMOTE_CODE`` environment variable)."""
    llm = model_cfg.get("llm") if isinstance(model_cfg, dict) else None
    if not isinstance(llm, dict) or not llm.get("trust_remote_code"):
        return
    if allowed is None:
        allowed = os.environ.get(TRUST_REMOTE_CODE_ENV, "").strip().lower() in ("1", "true", "yes")
    if not allowed:
        raise UnsafeLoadError(
            f"{source}: its model config sets llm.trust_remote_code, which runs the Python modeling code of "
            f"{llm.get('name_or_path')!r}; load it only if you trust both, with --trust-remote-code "
            f"(or {TRUST_REMOTE_CODE_ENV}=1)")


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(error).__name__
