"""Things a run needs besides the model and data: the demo corpus, the FSDP wrapping units."""

from __future__ import annotations

import logging

from omegaconf import DictConfig
from torch import nn

log = logging.getLogger(__name__)


def ensure_demo_world(cfg: DictConfig) -> None:
    """Write the demo corpus into ``paths.demo_dir`` when ``demo_world`` is set (idempotent)."""
    if cfg.get("demo_world"):
        from sphinx_x.demo.world import build_demo_world

        paths = build_demo_world(cfg.paths.demo_dir, n_train=cfg.demo_world.n_train,
                                 n_heldout=cfg.demo_world.n_heldout, seed=cfg.demo_world.seed)
        log.info("demo world ready: %s", paths["manifest"])


def decoder_layer_classes(model: nn.Module) -> set[type]:
    """The LLM's repeated block classes (``_no_split_modules``): FSDP wrapping units."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    return {type(m) for m in model.modules() if type(m).__name__ in names}
