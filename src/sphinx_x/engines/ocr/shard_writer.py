"""Writing the OCR engine's output folder: sharded, appendable, resumable (layout in
:mod:`sphinx_x.data.ocr.shards`).

On restart everything written after the last done line (tar bytes, rejects lines) is cut off, so an
interrupted PDF is redone from scratch and no page is duplicated. ``settings.json`` holds the settings
the folder is built with; a run with other settings refuses to mix its pages in.
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
from sphinx_x.engines.ocr.pdf_file import PDF_REJECTS

LOCK = ".lock"
SETTINGS = "settings.json"
FORMAT = "sphinx_x.ocr_pages/2"  # 2: labelled-box answers one entry a line
PAGE_ERRORS = ("page_error", "no_usable_text", "invalid_record")  # pages rejected; other page reasons filter


class OutputLocked(RuntimeError):
    """Another live build writes the output folder."""


class SettingsMismatch(ValueError):
    """The output folder was built with other settings."""


def settings_of(cfg: Any) -> dict[str, Any]:
    """What an output folder must keep constant across runs: the format and every engine setting."""
    return {"format": FORMAT, **cfg.to_dict()}


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
    pages_seen: int = 0


class ShardWriter:
    """Single writer of an output folder; resumes a previous run and appends to it."""

    def __init__(self, out: str | Path, shard_pages: int = 1000, settings: dict[str, Any] | None = None):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.shard_pages = shard_pages
        _take_lock(self.out / LOCK)
        try:
            self.done = _read_done(self.out / DONE)
            if settings is not None:
                _keep_settings(self.out, settings, bool(self.done))
        except BaseException:
            (self.out / LOCK).unlink(missing_ok=True)
            raise
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
                 "rejects_end": rejects_end, "pages_seen": result.pages_seen, "pages": len(written),
                 "records": dict(records),
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

    def close(self, config: dict[str, Any] | None = None, last_run: dict[str, Any] | None = None) -> dict[str, Any]:
        """Close the open shard (dropping it if empty), write the manifest, release the lock."""
        self._close_shard()
        manifest = build_manifest(self.done, config, last_run)
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


def build_manifest(done: list[dict[str, Any]], config: dict[str, Any] | None = None,
                   last_run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Totals over the done-list: PDFs and pages seen / kept / filtered / rejected, records per task,
    rejects per reason, per-shard counts; ``last_run`` as given."""
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
    pdfs: Counter[str] = Counter()
    pages: Counter[str] = Counter()
    for entry in done:
        rejected = sum(entry["rejects"].get(r, 0) for r in PAGE_ERRORS)
        filtered = sum(n for r, n in entry["rejects"].items() if r not in PAGE_ERRORS and r not in PDF_REJECTS)
        pages.update(seen=entry.get("pages_seen", entry["pages"] + rejected + filtered), kept=entry["pages"],
                     filtered=filtered, rejected=rejected)
        pdf_state = ("rejected" if set(entry["rejects"]) & set(PDF_REJECTS) else "kept" if entry["pages"] else "filtered")
        pdfs.update(seen=1, **{pdf_state: 1})
    states = ("seen", "kept", "filtered", "rejected")
    return {
        "format": FORMAT,
        "pdfs": {k: pdfs[k] for k in states},
        "pages": {k: pages[k] for k in states},
        "records": sum(records.values()),
        "records_per_task": dict(sorted(records.items())),
        "rejects": dict(sorted(rejects.items())),
        "stats": dict(sorted(stats.items())),
        "shards": [{"name": name, **counts} for name, counts in sorted(shards.items())],
        "config": config or {},
        **({"last_run": last_run} if last_run is not None else {}),
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
            raise OutputLocked(f"{path.parent} is being written by another build (pid {pid} on "
                               f"{owner.get('host', '?')}): wait for it, or delete {path} if it is not running")
    path.write_text(json.dumps(me))


def _keep_settings(out: Path, settings: dict[str, Any], has_output: bool) -> None:
    """Record ``settings`` for a new output; refuse (:class:`SettingsMismatch`) to resume one built
    with others. A folder from before settings were kept is judged by its manifest's config."""
    path = out / SETTINGS
    stored: dict[str, Any] | None = None
    if path.exists():
        stored = json.loads(path.read_text())
    elif has_output and (out / MANIFEST).exists():
        manifest = json.loads((out / MANIFEST).read_text())
        stored = {"format": manifest.get("format"), **manifest.get("config", {})}
    if stored is not None and stored != settings and has_output:
        changed = sorted(k for k in settings.keys() | stored.keys() if settings.get(k) != stored.get(k))
        diff = ", ".join(f"{k}={stored.get(k)!r} there, {settings.get(k)!r} now" for k in changed[:4])
        more = f" (+{len(changed) - 4} more)" if len(changed) > 4 else ""
        raise SettingsMismatch(f"{out} was built with other settings ({diff}{more}); rerun with the same "
                               f"settings to resume it, or write to a new --out")
    tmp = out / (SETTINGS + ".tmp")
    tmp.write_text(json.dumps(settings, indent=2) + "\n")
    tmp.replace(path)


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
