"""Reader ``som_shards``: the output of ``sphinx-x-build-som`` (Set-of-Mark and multipanel records).

The folder has the OCR engine's layout, so the shards are read by the ``ocr_pages`` reader (images
extracted once into ``options.image_cache``, only committed members read, questions drawn again from
the run's PromptPool); this reader chooses the record tasks and domains.

Options: ``tasks`` (subset of :data:`SOM_TASKS`; null = all), ``domains`` (subset of natural, screen,
text, document, multipanel; null = all), ``image_cache``, ``repick_prompts`` (default true).
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

SOM_TASKS = ("som_marks", "som_annotated", "multipanel", "multipanel_annotated")
SOM_DOMAINS = ("natural", "screen", "text", "document", "multipanel")


@register_reader("som_shards")
def read_som_shards(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    tasks = _subset(spec, "tasks", SOM_TASKS)
    domains = _subset(spec, "domains", SOM_DOMAINS)
    pages = replace(spec, options={k: v for k, v in spec.options.items() if k not in ("tasks", "domains")})
    for item in read_ocr_pages(pages, prompts):
        if isinstance(item, RecordError):
            yield item
        elif (tasks is None or item.get("task") in tasks) and (domains is None or _meta(item, "domain") in domains):
            yield item


def _subset(spec: SourceSpec, option: str, allowed: tuple[str, ...]) -> set[str] | None:
    value: Any = spec.options.get(option)
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if unknown := sorted(set(names) - set(allowed)):
        raise ValueError(f"data.sources.{spec.name}.options.{option}: unknown {unknown}; allowed {allowed}")
    return set(names)
