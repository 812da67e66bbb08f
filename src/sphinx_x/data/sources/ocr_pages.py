"""Reader ``ocr_pages``: the shards written by ``sphinx-x-build-ocr`` as a data source.

Page images are extracted once from each shard into ``options.image_cache`` (default
``<path>/image_cache/<shard>/<key>.png``, written atomically, so ranks and workers may share it) and
Records point at those files, which PIL opens like any other image. Only tar members that the
build committed (done.jsonl) are read, so a folder whose build was interrupted is safe to train on.

Options: ``tasks`` (record task names or engine task names; null = all), ``image_cache``,
``repick_prompts`` (default true: questions are drawn again from the run's PromptPool).
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sphinx_x.data.image_dialogue import repick_prompts
from sphinx_x.data.ocr.shards import SHARD_GLOB, committed_ends, committed_members, read_done
from sphinx_x.data.ocr.task_names import TASK_NAMES
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader

_MARKER = ".complete"


@register_reader("ocr_pages")
def read_ocr_pages(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    root = Path(spec.path)
    options = spec.options or {}
    tasks = _task_filter(options.get("tasks"))
    cache = Path(options.get("image_cache") or root / "image_cache")
    pool = prompts if options.get("repick_prompts", True) else None
    done = read_done(root)
    ends = committed_ends(done) if done else None
    for shard in sorted(root.glob(SHARD_GLOB)):
        if ends is not None and shard.name not in ends:
            continue
        end = ends[shard.name] if ends is not None else None
        for record in _read_shard(shard, end, cache / shard.stem):
            if isinstance(record, RecordError) or tasks is None or record.get("task") in tasks:
                yield record if isinstance(record, RecordError) else _adapt(record, spec.name, pool)


# option name -> (the record's value it selects on, the allowed names or None for any)
Selectors = Mapping[str, tuple[Callable[[Record], Any], tuple[str, ...] | None]]


def read_selected_pages(spec: SourceSpec, prompts: PromptPool, selectors: Selectors) -> Iterator[Record | RecordError]:
    """``ocr_pages`` records kept when, for each selector option the spec sets, the record's value is
    among the chosen names (rejects always pass through). Engines that write the OCR layout (Set-of-Mark,
    MMInstruct) read their shards this way."""
    chosen = {option: _chosen(spec, option, allowed) for option, (_, allowed) in selectors.items()}
    pages = replace(spec, options={k: v for k, v in spec.options.items() if k not in selectors})
    for item in read_ocr_pages(pages, prompts):
        if isinstance(item, RecordError) or all(
                names is None or selectors[option][0](item) in names for option, names in chosen.items()):
            yield item


def meta_value(key: str) -> Callable[[Record], str | None]:
    """A selector value: ``record["meta"][key]`` when it is a string (a malformed record is left to validation)."""
    def value(record: Record) -> str | None:
        meta = record.get("meta")
        found = meta.get(key) if isinstance(meta, dict) else None
        return found if isinstance(found, str) else None
    return value


def _chosen(spec: SourceSpec, option: str, allowed: tuple[str, ...] | None) -> set[str] | None:
    value: Any = spec.options.get(option)
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if allowed is not None and (unknown := sorted(set(names) - set(allowed))):
        raise ValueError(f"data.sources.{spec.name}.options.{option}: unknown {unknown}; allowed {allowed}")
    return set(names)


def _read_shard(shard: Path, end: int | None, cache: Path) -> Iterator[Record | RecordError]:
    """Records of one shard, extracting its images into ``cache`` unless already complete."""
    marker = cache / _MARKER
    size = end if end is not None else shard.stat().st_size
    extract = not marker.exists() or int(marker.read_text() or -1) < size
    cache.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(shard, "r:") as tar:
            for member in committed_members(tar, end):
                name = member.name
                if not _plain_name(name) or not member.isfile():
                    continue  # only the engine's flat <key>.png / <key>.json members (never ../ paths)
                if name.endswith(".png") and extract:
                    _write_once(cache / name, tar.extractfile(member).read())
                elif name.endswith(".json"):
                    yield from _records(tar.extractfile(member).read(), f"{shard.name}/{name}", cache)
    except tarfile.TarError as e:
        yield RecordError("corrupt_shard", f"{shard.name}: {e}", shard.name)
        return
    if extract:
        marker.write_text(str(size))


def _records(raw: bytes, member: str, cache: Path) -> Iterator[Record | RecordError]:
    try:
        doc = json.loads(raw)
        records = doc["records"]
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, KeyError, TypeError) as e:
        yield RecordError("malformed_json", f"{member}: {type(e).__name__}: {str(e)[:200]}", where=f"{member}:0")
        return
    if not isinstance(records, list):
        yield RecordError("malformed_json", f"{member}: 'records' must be a list", where=f"{member}:0")
        return
    for k, record in enumerate(records):
        images = record.get("images", []) if isinstance(record, dict) else None
        if not isinstance(images, list) or not all(isinstance(i, str) and _plain_name(i) for i in images):
            yield RecordError("malformed_item", f"{member}[{k}]: a record object with image file names",
                              where=f"{member}:{k}")
            continue
        record["images"] = [str(cache / image) for image in images]
        yield record


def _plain_name(name: str) -> bool:
    """A file name without folders (a shard's members and images never leave the cache folder)."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _adapt(record: Record, source: str, pool: PromptPool | None) -> Record:
    record["source"] = source
    return repick_prompts(record, pool) if pool is not None else record


def _task_filter(tasks: Any) -> set[str] | None:
    if tasks is None:
        return None
    names = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in names if t not in TASK_NAMES and t not in TASK_NAMES.values()]
    if unknown:
        raise ValueError(f"ocr_pages options.tasks: unknown {unknown}; allowed: {sorted(TASK_NAMES.values())}")
    return {TASK_NAMES.get(t, t) for t in names}


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
