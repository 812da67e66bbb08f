"""Writing the OCR engine's output folder: sharded, appendable, resumable (layout in
:mod:`sphinx_x.data.ocr.shards`).

On restart everything written after the last done line (tar bytes, rejects lines) is cut off, so an
interrupted PDF is redone from scratch and no page is duplicated.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx_x.data.ocr.shards import (
    DONE,
    MANIFEST,
    REJECTS,
    SHARD_GLOB,
    committed_ends,
    read_complete_lines,
    shard_name,
)

LOCK = ".lock"


@dataclass
class PageOut:
    """One rendered page ready to write: the PNG and the JSON document holding its Records."""

    key: str
    page: int
    png: bytes
    doc: dict[str, Any]
    text_hash: str
    stats: Counter[str] = field(default_factory=Counter)  # merges, drops, turns on this page


@dataclass
class PdfResult:
    """What a worker returns for one PDF."""

    pdf: str
    pages: list[PageOut] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)  # PDF-level counts


class ShardWriter:
    """Single writer of an output folder; resumes a previous run and appends to it."""

    def __init__(self, out: str | Path, shard_pages: int = 1000):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.shard_pages = shard_pages
        _take_lock(self.out / LOCK)
        self.done = _read_done(self.out / DONE)
        self.finished = {entry["pdf"] for entry in self.done}
        self.hashes = {h for entry in self.done for h in entry.get("hashes", [])}
        self._repair()
        self._open_shard()

    # writing -----------------------------------------------------------------------------------
    def commit(self, result: PdfResult, dedup: bool = True) -> dict[str, Any]:
        """Write one PDF's pages, then its rejects, then its done line (in that order)."""
        rejects = list(result.rejects)
        written: list[PageOut] = []
        for page in result.pages:
            if dedup and page.text_hash in self.hashes:
                rejects.append({"pdf": result.pdf, "page": page.page, "reason": "duplicate_page",
                                "detail": f"text hash {page.text_hash} seen before"})
                continue
            self.hashes.add(page.text_hash)
            self._add(f"{page.key}.png", page.png)
            self._add(f"{page.key}.json", json.dumps(page.doc, ensure_ascii=False).encode())
            written.append(page)
        self._file.flush()
        with (self.out / REJECTS).open("ab") as f:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects).encode())
            rejects_end = f.tell()
        records = Counter(r["task"] for page in written for r in page.doc["records"])
        stats = sum((page.stats for page in written), Counter(result.stats))
        entry = {"pdf": result.pdf, "shard": self._name if written else None, "end": self._tar.offset,
                 "rejects_end": rejects_end, "pages": len(written), "records": dict(records),
                 "rejects": dict(Counter(r["reason"] for r in rejects)), "stats": dict(stats),
                 "hashes": [p.text_hash for p in written]}
        with (self.out / DONE).open("a") as f:
            f.write(json.dumps(entry) + "\n")
        self.done.append(entry)
        self.finished.add(result.pdf)
        self._shard_count += len(written)
        if self._shard_count >= self.shard_pages:
            self._close_shard()
            self._open_shard()
        return entry

    def close(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Close the open shard (dropping it if empty), write the manifest, release the lock."""
        self._close_shard()
        manifest = build_manifest(self.done, config)
        tmp = self.out / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(self.out / MANIFEST)
        (self.out / LOCK).unlink(missing_ok=True)
        return manifest

    @property
    def pages_written(self) -> int:
        return sum(entry["pages"] for entry in self.done)

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))

    # shards ------------------------------------------------------------------------------------
    def _open_shard(self) -> None:
        ends = committed_ends(self.done)
        counts: Counter[str] = Counter()
        for entry in self.done:
            counts[entry["shard"]] += entry["pages"]
        last = max(ends, default=None)
        if last is not None and counts[last] < self.shard_pages and last not in self._closed:
            self._name, start = last, ends[last]
            self._file = (self.out / last).open("r+b")
            self._file.truncate(start)
            self._file.seek(start)
        else:
            index = 1 + max((int(n[6:12]) for n in ends), default=-1)
            self._name = shard_name(index)
            self._file = (self.out / self._name).open("wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.USTAR_FORMAT)
        self._shard_count = counts[self._name]

    def _close_shard(self) -> None:
        if getattr(self, "_tar", None) is None:
            return
        empty = self._tar.offset == 0
        self._tar.close()
        self._file.close()
        self._tar = None
        self._closed.add(self._name)
        if empty:
            (self.out / self._name).unlink(missing_ok=True)

    def _repair(self) -> None:
        """Cut everything a killed run wrote after its last done line."""
        self._closed: set[str] = set()
        ends = committed_ends(self.done)
        for path in sorted(self.out.glob(SHARD_GLOB)):
            if path.name not in ends:
                path.unlink()
                continue
            with path.open("r+b") as f:
                f.truncate(ends[path.name])
                f.seek(0, os.SEEK_END)
                f.write(b"\0" * (2 * tarfile.BLOCKSIZE))  # end-of-archive marker
        rejects = self.out / REJECTS
        if rejects.exists():
            with rejects.open("r+b") as f:
                f.truncate(self.done[-1]["rejects_end"] if self.done else 0)


def build_manifest(done: list[dict[str, Any]], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Totals over the done-list: pages, records per task, rejects per reason, per-shard counts."""
    shards: dict[str, dict[str, int]] = {}
    records: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    for entry in done:
        records.update(entry["records"])
        rejects.update(entry["rejects"])
        stats.update(entry["stats"])
        if entry["shard"]:
            shard = shards.setdefault(entry["shard"], {"pages": 0, "records": 0})
            shard["pages"] += entry["pages"]
            shard["records"] += sum(entry["records"].values())
    pdf_level = {"corrupt_pdf", "encrypted_pdf", "empty_pdf", "pdf_error", "pdf_timeout"}
    return {
        "format": "sphinx_x.ocr_pages/1",
        "pdfs": len(done),
        "pdfs_rejected": sum(1 for e in done if set(e["rejects"]) & pdf_level),
        "pages": sum(e["pages"] for e in done),
        "records": sum(records.values()),
        "records_per_task": dict(sorted(records.items())),
        "rejects": dict(sorted(rejects.items())),
        "stats": dict(sorted(stats.items())),
        "shards": [{"name": name, **counts} for name, counts in sorted(shards.items())],
        "config": config or {},
    }


def _read_done(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries, good_end = read_complete_lines(path)
    with path.open("r+b") as f:
        f.truncate(good_end)
    return entries


def _take_lock(path: Path) -> None:
    """Refuse to run two builds on one folder; a lock left by a dead process on this host is taken over."""
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    if path.exists():
        try:
            owner = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            owner = {}
        pid = int(owner.get("pid", 0))
        if owner.get("host") != me["host"] or (pid != me["pid"] and _alive(pid)):
            raise RuntimeError(f"{path.parent} is being written by {owner} (delete {path} if no build is running)")
    path.write_text(json.dumps(me))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
