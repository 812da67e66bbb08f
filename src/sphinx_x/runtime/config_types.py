"""The types of the training config's fields, checked at start-up so that ``trainer.max_steps=abc`` or
``optim.lr=fast`` stops the run at once with the field's name, not deep inside Lightning or PyTorch.

One table, :data:`FIELDS`: dotted field -> the kind of value it takes. Fields a config does not have
are skipped (groups differ); the values' ranges are checked by :func:`~sphinx_x.runtime.config.validate_config`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


@dataclass(frozen=True)
class Kind:
    """A kind of config value: its name for messages and the check."""

    name: str
    check: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        return self.check(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


INT = Kind("an integer", _is_int)
NUMBER = Kind("a finite number", _is_number)
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
STR = Kind("a string", lambda v: isinstance(v, str))


def optional(kind: Kind) -> Kind:
    return Kind(f"{kind.name} or null", lambda v: v is None or kind(v))


def either(*kinds: Kind) -> Kind:
    return Kind(" or ".join(k.name for k in kinds), lambda v: any(k(v) for k in kinds))


def list_of(kind: Kind, items: str, length: int | None = None) -> Kind:
    """A list of ``kind`` values (``items`` names them in messages), of ``length`` when given."""
    return Kind(f"a list of {f'{length} ' if length else ''}{items}",
                lambda v: isinstance(v, list) and (length is None or len(v) == length) and all(kind(x) for x in v))


FIELDS: dict[str, Kind] = {
    "seed": INT, "global_batch_size": INT, "ckpt_path": optional(STR), "task_name": STR, "num_threads": optional(INT),
    # trainer
    "trainer.accelerator": STR, "trainer.devices": INT, "trainer.num_nodes": INT,
    "trainer.precision": either(STR, INT), "trainer.max_epochs": optional(INT), "trainer.max_steps": INT,
    "trainer.gradient_clip_val": optional(NUMBER), "trainer.log_every_n_steps": INT,
    "trainer.val_check_interval": optional(NUMBER), "trainer.check_val_every_n_epoch": optional(INT),
    "trainer.limit_val_batches": NUMBER, "trainer.num_sanity_val_steps": INT, "trainer.enable_progress_bar": BOOL,
    # optimiser
    "optim.name": STR, "optim.lr": NUMBER, "optim.betas": list_of(NUMBER, "numbers", 2), "optim.eps": NUMBER,
    "optim.weight_decay": NUMBER, "optim.warmup_epochs": NUMBER, "optim.min_lr_ratio": NUMBER,
    "optim.llm_lr_scale": NUMBER, "optim.vision_layer_decay": NUMBER,
    # data
    "data.sources": Kind("a mapping of source configs", lambda v: isinstance(v, dict)),
    "data.weighting": STR, "data.temperature": NUMBER, "data.num_samples": optional(INT), "data.seed": INT,
    "data.strict": BOOL, "data.rejects_path": optional(STR), "data.max_image_pixels": optional(INT),
    "data.max_length": INT, "data.template": STR, "data.system_prompt": optional(STR), "data.prompts.seed": INT,
    "data.prompts.fixed": BOOL, "data.micro_batch_size": INT, "data.bucket_by_length": BOOL, "data.packing": BOOL,
    "data.max_tokens_per_batch": optional(INT), "data.pack_buffer": INT, "data.num_workers": INT,
    "data.val_fraction": NUMBER,
    "data.val_sources": list_of(STR, "source names"), "data.pin_memory": BOOL,
    # model (its parts are checked by building them)
    "model.name": STR, "model.tokenizer": STR, "model.max_length": INT, "model.freeze_vision": BOOL,
    "model.train_llm": BOOL,
    # callbacks, strategy, logger
    "callbacks.checkpoint.every_n_train_steps": optional(INT), "callbacks.checkpoint.save_last": BOOL,
    "callbacks.checkpoint.save_top_k": INT, "callbacks.lr_monitor": BOOL,
    "strategy.name": STR, "logger.name": STR,
}


class _Absent:
    pass


_ABSENT = _Absent()


def type_errors(cfg: DictConfig) -> list[str]:
    """``<field>: must be <kind>, got <value>`` for every field of :data:`FIELDS` whose value is of
    another type (or whose interpolation cannot be resolved)."""
    errors = []
    for field, kind in FIELDS.items():
        try:
            value = OmegaConf.select(cfg, field, default=_ABSENT, throw_on_missing=True)
        except OmegaConfBaseException as e:
            errors.append(f"{field}: {type(e).__name__}: {str(e).splitlines()[0]}")
            continue
        if value is _ABSENT:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not kind(value):
            errors.append(f"{field}: must be {kind.name}, got {value!r} ({type(value).__name__})"[:300])
    return errors
