"""The OCR engine's output folder, and reading what a build committed to it.

Layout::

    shard-000000.tar   <key>.png (page image) + <key>.json (page text, boxes and its Records)
    done.jsonl         one line per finished PDF, written after its shard entries are flushed:
                       {"pdf", "shard", "end" (committed tar size), "rejects_end", "pages", ...}
    rejects.jsonl      one line per rejected PDF or page: {"pdf", "page", "reason", "detail"}
    manifest.json      counts, rebuilt from done.jsonl

``done.jsonl`` is the source of truth: tar members past a shard's committed end (an interrupted
build's) are not part of the dataset, so a folder whose build was interrupted is safe to read.
Writing them is the OCR engine's (``sphinx-x-build-ocr``).
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DONE, REJECTS, MANIFEST = "done.jsonl", "rejects.jsonl", "manifest.json"
SHARD_GLOB = "shard-*.tar"


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.tar"


def read_done(out: str | Path) -> list[dict[str, Any]]:
    """The done-list of an output folder (empty when there is none)."""
    path = Path(out) / DONE
    return read_complete_lines(path)[0] if path.exists() else []


def read_complete_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Entries of a JSONL file up to the first incomplete or malformed line, and the byte length they span."""
    entries: list[dict[str, Any]] = []
    end = 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                entries.append(json.loads(raw))
            except json.JSONDecodeError:
                break
            end += len(raw)
    return entries, end


def committed_ends(done: list[dict[str, Any]]) -> dict[str, int]:
    """Committed byte length of every shard named in the done-list."""
    ends: dict[str, int] = {}
    for entry in done:
        if entry.get("shard"):
            ends[entry["shard"]] = max(ends.get(entry["shard"], 0), entry["end"])
    return ends


def committed_members(tar: tarfile.TarFile, end: int | None = None) -> Iterator[tarfile.TarInfo]:
    """Members of an open shard that lie before ``end`` (its committed length; None: all)."""
    for member in tar:
        if end is not None and member.offset >= end:
            return
        yield member
