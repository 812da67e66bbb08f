"""Source specs, the reader registry and loading with counted rejects.

A reader turns one dataset in its published layout into Records. It yields a
:class:`~sphinx_x.data.records.RecordError` for an item it cannot convert, so the loader counts it
(and writes it to the rejects file) instead of stopping; it checks every value's type before use
(:mod:`sphinx_x.data.sources.values`). A file that cannot be read at all (truncated JSON, not a list)
is one reject naming the file and line. Options that cannot work raise
:class:`~sphinx_x.data.sources.values.SourceOptionError` (a config error).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, RejectLog, json_kind, validate_record
from sphinx_x.data.sources.values import SourceOptionError

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
        field = f"data.sources.{self.name}"
        for key, kinds in _SPEC_TYPES.items():
            value = getattr(self, key)
            if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
                allowed = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
                raise ValueError(f"{field}.{key}: must be {allowed}, got {json_kind(value)} {value!r}")
        if self.group not in GROUPS:
            raise ValueError(f"{field}.group must be one of {GROUPS}, got {self.group!r}")
        if self.size is not None and self.size < 1 or self.max_samples is not None and self.max_samples < 1:
            raise ValueError(f"{field}: size and max_samples must be >= 1 or null")
        if self.weight is not None and not self.weight >= 0:
            raise ValueError(f"{field}.weight: must be >= 0 or null, got {self.weight}")

    def resolve_image(self, relative: str) -> str:
        return str(Path(self.image_root) / relative) if self.image_root else relative

    @property
    def file_label(self) -> str:
        """The annotation file (or folder) name that reject ids start with."""
        return Path(self.path).name


_SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "reader": (str,), "path": (str,), "group": (str,), "task": (str,),
    "image_root": (str, type(None)), "size": (int, type(None)), "weight": (int, float, type(None)),
    "max_samples": (int, type(None)), "options": (dict,)}


def iter_source(spec: SourceSpec, prompts: PromptPool, rejects: RejectLog) -> Iterator[Record]:
    """Valid Records of one source; malformed items go to ``rejects`` (or raise when strict).

    A reader that raises a RecordError (its file cannot be read at all) ends the source with that
    reject; option errors propagate as config errors.
    """
    if spec.reader not in READERS:
        raise ValueError(f"data.sources.{spec.name}.reader: unknown reader {spec.reader!r}; known: {sorted(READERS)}")
    if not Path(spec.path).exists():
        raise FileNotFoundError(f"data.sources.{spec.name}.path does not exist: {spec.path}")
    kept = 0
    items = iter(READERS[spec.reader](spec, prompts))
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except RecordError as error:
            rejects.add(spec.name, error, spec.file_label)
            return
        if isinstance(item, RecordError):
            rejects.add(spec.name, item, spec.file_label)
            continue
        try:
            validate_record(item)
        except RecordError as error:
            rejects.add(spec.name, error, spec.file_label)
            continue
        yield item
        kept += 1
        if spec.max_samples is not None and kept >= spec.max_samples:
            return


def load_source(spec: SourceSpec, prompts: PromptPool, rejects: RejectLog) -> list[Record]:
    records = list(iter_source(spec, prompts, rejects))
    log.info("source %s: %d records, %d rejected", spec.name, len(records), rejects.loaded.get(spec.name, 0))
    return records


def load_json(path: str | Path) -> Any:
    """A whole JSON file; a file that is not valid JSON is a RecordError naming the file and line."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise RecordError("malformed_json", f"{path}: {e.msg} at line {e.lineno} column {e.colno}",
                          where=f"{path.name}:{e.lineno}") from None
    except (UnicodeDecodeError, RecursionError) as e:
        raise RecordError("malformed_json", f"{path}: {type(e).__name__}", where=f"{path.name}:0") from None


def json_list(doc: Any, key: str | None, path: str | Path, mapping: bool = False) -> Any:
    """``doc[key]`` (``doc`` itself when ``key`` is None) when it is a list (an object with ``mapping``);
    anything else is a ``malformed_file`` RecordError naming the file and the field."""
    path = Path(path)
    value = doc if key is None else doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, dict if mapping else list):
        what = f"'{key}'" if key else "the file"
        raise RecordError("malformed_file", f"{path}: {what} must be {'an object' if mapping else 'a list'}, "
                                            f"got {json_kind(value)}", where=f"{path.name}:{key or 0}")
    return value


def read_items(path: str | Path) -> Iterator[tuple[str, Any | RecordError]]:
    """(``<file>:<line or index>``, item) for the items of a JSON list or a JSONL file.

    JSONL: one item a line (1-based line numbers; a malformed line is a RecordError). JSON: a list,
    or an object holding it under ``data`` or ``annotations`` (0-based indices). A file that cannot
    be parsed, or holds no list, is one RecordError naming the file and line.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                where = f"{path.name}:{n}"
                if not raw.strip():
                    continue
                try:
                    yield where, json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
                    detail = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
                    yield where, RecordError("malformed_json", f"{path}:{n}: {detail}", where=where)
        return
    data = load_json(path)
    key = ("data" if "data" in data else "annotations") if isinstance(data, dict) else None
    for n, item in enumerate(json_list(data, key, path)):
        yield f"{path.name}:{n}", item


def read_text_lines(path: str | Path, rid: str | None = None) -> list[str]:
    """A text annotation file's lines; a file that is not UTF-8 is a ``malformed_annotation`` RecordError."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise RecordError("malformed_annotation", f"{path}: not UTF-8 at line {line}", rid,
                          where=f"{path.name}:{line}") from None


def read_json_or_jsonl(path: str | Path) -> Iterator[Any | RecordError]:
    """Items of a JSON list or a JSONL file (see :func:`read_items`)."""
    for _, item in read_items(path):
        yield item


__all__ = ["READERS", "Reader", "SourceOptionError", "SourceSpec", "iter_source", "json_list", "load_json",
           "load_source", "read_items", "read_json_or_jsonl", "read_text_lines", "register_reader"]
