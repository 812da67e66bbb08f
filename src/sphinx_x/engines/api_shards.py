"""The output folder of an API-driven engine (Set-of-Mark, MMInstruct): the OCR engine's
:class:`ShardWriter` (same layout, same resume rules; see :mod:`sphinx_x.data.ocr.shards`), one unit per
image or figure, with a manifest that adds the API usage.

In done.jsonl and rejects.jsonl the ``pdf`` field holds the unit's identity (e.g. ``<source>/<image id>``)
and ``pages`` is 1 for a written unit, 0 for a rejected one. ``settings.json`` keeps the engine settings:
a rerun with other settings is refused rather than mixed in.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sphinx_x.data.ocr.shards import MANIFEST
from sphinx_x.engines.ocr.shard_writer import (
    LOCK,
    OutputLocked,
    SettingsMismatch,
    ShardWriter,
    build_manifest,
)

USAGE = ("api_requests", "api_retries", "api_cache_hits", "prompt_tokens", "completion_tokens")


class ApiShardWriter(ShardWriter):
    """A :class:`ShardWriter` whose manifest (format ``fmt``) counts units and API usage (tokens, cost)."""

    def __init__(self, out: str | Path, fmt: str, shard_units: int = 1000, settings: dict[str, Any] | None = None):
        self.format = fmt
        super().__init__(out, shard_units, settings)

    def close(self, config: dict[str, Any] | None = None, prices: tuple[float, float] = (0.0, 0.0),
              pending: int = 0) -> dict[str, Any]:
        self._close_shard()
        manifest = api_manifest(self.done, self.format, config, prices, pending)
        tmp = self.out / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(self.out / MANIFEST)
        (self.out / LOCK).unlink(missing_ok=True)
        return manifest


def api_manifest(done: list[dict[str, Any]], fmt: str, config: dict[str, Any] | None,
                 prices: tuple[float, float], pending: int = 0) -> dict[str, Any]:
    """Totals over the done-list: units seen / written / rejected, records per task, rejects per reason,
    ``usage`` summed over every run's API calls with ``cost_usd`` at ``prices`` (USD per million input /
    output tokens), and ``pending``: units of the last run left for the next one."""
    base = build_manifest(done, config)
    usage: dict[str, Any] = {key: base["stats"].get(key, 0) for key in USAGE}
    usage["cost_usd"] = round(usage["prompt_tokens"] * prices[0] / 1e6 + usage["completion_tokens"] * prices[1] / 1e6, 6)
    written = sum(1 for entry in done if entry["pages"])
    return {"format": fmt, "units": {"seen": len(done), "written": written, "rejected": len(done) - written},
            "pending": pending, "records": base["records"], "records_per_task": base["records_per_task"],
            "rejects": base["rejects"], "stats": {k: v for k, v in base["stats"].items() if k not in USAGE},
            "usage": usage,
            "shards": [{"name": s["name"], "units": s["pages"], "records": s["records"]} for s in base["shards"]],
            "config": base["config"]}


def read_manifest(out: str | Path) -> dict[str, Any]:
    return json.loads((Path(out) / MANIFEST).read_text())


def run_build_cli(prog: str, build: Callable[[], dict[str, Any]], out: str | Path, units: str) -> int:
    """Run an API engine's build for its CLI: a held lock or changed settings is one line (exit 2), an
    interrupt keeps finished ``units`` (130), the summary is printed as JSON, and units the API never
    answered exit 3 (rerun to do them)."""
    try:
        manifest = build()
    except (OutputLocked, SettingsMismatch) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished {units} are kept; rerun the same command to resume into {out}",
              file=sys.stderr)
        return 130
    summary = {k: manifest[k] for k in ("units", "pending", "records", "records_per_task", "rejects", "usage")}
    print(json.dumps(summary, indent=2))
    if manifest["pending"]:
        print(f"{manifest['pending']} {units} got no answer from the API: rerun the same command to do them",
              file=sys.stderr)
        return 3
    return 0
