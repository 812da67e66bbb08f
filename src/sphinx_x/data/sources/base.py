"""Source specs, the reader registry and loading with counted rejects.

A reader turns one dataset in its published layout into Records. It yields a
:class:`~sphinx_x.data.records.RecordError` for an item it cannot convert, so the loader counts it
(and writes it to the rejects file) instead of stopping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, RejectLog, validate_record

log = logging.getLogger(__name__)

GROUPS = ("language", "vision", "vl", "ocr", "som")
Reader = Callable[["SourceSpec", PromptPool], Iterable[Record | RecordError]]
READERS: dict[str, Reader] = {}


def register_reader(name: str) -> Callable[[Reader], Reader]:
    """Decorator: make a reader available to source configs as ``reader: <name>``."""

    def wrap(fn: Reader) -> Reader:
        if name in READERS:
            raise ValueError(f"reader {name!r} registered twice")
        READERS[name] = fn
        return fn

    return wrap


@dataclass
class SourceSpec:
    """One dataset in the mixture (``sphinx_x/conf/data/source/<name>.yaml``)."""

    name: str
    reader: str
    path: str
    group: str = "vl"
    task: str = "instruction"
    image_root: str | None = None
    size: int | None = None  # nominal size (paper's Table 9) used for size-proportional weights
    weight: float | None = None  # explicit mixture weight; None -> proportional to size
    max_samples: int | None = None  # per-source cap
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"data.sources.{self.name}.group must be one of {GROUPS}, got {self.group!r}")

    def resolve_image(self, relative: str) -> str:
        return str(Path(self.image_root) / relative) if self.image_root else relative


def iter_source(spec: SourceSpec, prompts: PromptPool, rejects: RejectLog) -> Iterator[Record]:
    """Valid Records of one source; malformed items go to ``rejects`` (or raise when strict)."""
    if spec.reader not in READERS:
        raise ValueError(f"data.sources.{spec.name}.reader: unknown reader {spec.reader!r}; known: {sorted(READERS)}")
    if not Path(spec.path).exists():
        raise FileNotFoundError(f"data.sources.{spec.name}.path does not exist: {spec.path}")
    kept = 0
    for item in READERS[spec.reader](spec, prompts):
        if isinstance(item, RecordError):
            rejects.add(spec.name, item)
            continue
        try:
            validate_record(item)
        except RecordError as error:
            rejects.add(spec.name, error)
            continue
        yield item
        kept += 1
        if spec.max_samples is not None and kept >= spec.max_samples:
            break


def load_source(spec: SourceSpec, prompts: PromptPool, rejects: RejectLog) -> list[Record]:
    records = list(iter_source(spec, prompts, rejects))
    log.info("source %s: %d records, %d rejected", spec.name, len(records), rejects.per_source().get(spec.name, 0))
    return records


def read_json_or_jsonl(path: str | Path) -> Iterator[Any | RecordError]:
    """Items of a JSON list or a JSONL file; a malformed JSONL line becomes a RecordError."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open() as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    yield RecordError("malformed_json", f"{path.name}:{n}: {e.msg}", f"{path.name}:{n}")
        return
    with path.open() as f:
        data = json.load(f)
    yield from (data if isinstance(data, list) else data.get("data", data.get("annotations", [])))
