"""Reader ``som_shards``: the output of ``sphinx-x-build-som`` (Set-of-Mark and multipanel records).

The folder has the OCR engine's layout, so the shards are read by the ``ocr_pages`` reader (images
extracted once into ``options.image_cache``, only committed members read, questions drawn again from
the run's PromptPool); this reader chooses the record tasks and domains.

Options: ``tasks`` (subset of :data:`SOM_TASKS`; null = all), ``domains`` (subset of natural, screen,
text, document, multipanel; null = all), ``image_cache``, ``repick_prompts`` (default true).
"""

from __future__ import annotations

from collections.abc import Iterator

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.ocr_pages import meta_value, read_selected_pages

SOM_TASKS = ("som_marks", "som_annotated", "multipanel", "multipanel_annotated")
SOM_DOMAINS = ("natural", "screen", "text", "document", "multipanel")


@register_reader("som_shards")
def read_som_shards(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    return read_selected_pages(spec, prompts, {"tasks": (lambda record: record.get("task"), SOM_TASKS),
                                               "domains": (meta_value("domain"), SOM_DOMAINS)})
