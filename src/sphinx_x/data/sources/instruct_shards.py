"""Reader ``instruct_shards``: the output of ``sphinx-x-build-instruct`` (MMInstruct question types).

The folder has the OCR engine's layout, so the shards are read by the ``ocr_pages`` reader (images
extracted once into ``options.image_cache``, only committed members read, type hints drawn again from the
run's PromptPool); this reader chooses the question types and domains.

Options: ``types`` (subset of judgement, choice, short, long; null = all), ``domains`` (domain folder
names; null = all), ``image_cache``, ``repick_prompts`` (default true).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.ocr_pages import read_ocr_pages


def _meta(record: Record, key: str) -> str | None:
    """``record["meta"][key]`` when it is a string (a malformed record is then left to validation)."""
    meta = record.get("meta")
    value = meta.get(key) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None

QUESTION_TYPES = ("judgement", "choice", "short", "long")


@register_reader("instruct_shards")
def read_instruct_shards(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    types = _names(spec, "types", QUESTION_TYPES)
    domains = _names(spec, "domains", None)
    pages = replace(spec, options={k: v for k, v in spec.options.items() if k not in ("types", "domains")})
    for item in read_ocr_pages(pages, prompts):
        if isinstance(item, RecordError):
            yield item
        elif (types is None or _meta(item, "question_type") in types) and (
                domains is None or _meta(item, "domain") in domains):
            yield item


def _names(spec: SourceSpec, option: str, allowed: tuple[str, ...] | None) -> set[str] | None:
    value: Any = spec.options.get(option)
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if allowed is not None and (unknown := sorted(set(names) - set(allowed))):
        raise ValueError(f"data.sources.{spec.name}.options.{option}: unknown {unknown}; allowed {allowed}")
    return set(names)
