"""The Set-of-Mark engine's output folder: :class:`~sphinx_x.engines.api_shards.ApiShardWriter` with the
format ``sphinx_x.som/1``; ``pdf`` in done.jsonl / rejects.jsonl is ``<source>/<image id>`` or
``multipanel/<index>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx_x.engines.api_shards import ApiShardWriter, read_manifest

FORMAT = "sphinx_x.som/1"
__all__ = ["FORMAT", "SomShardWriter", "read_manifest", "settings_of"]


class SomShardWriter(ApiShardWriter):
    def __init__(self, out: str | Path, shard_units: int = 1000, settings: dict[str, Any] | None = None):
        super().__init__(out, FORMAT, shard_units, settings)


def settings_of(config: dict[str, Any]) -> dict[str, Any]:
    """What an output folder must keep constant across runs (a rerun with others is refused)."""
    return {"format": FORMAT, **config}
