"""Reader ``instruct_shards``: the output of ``sphinx-x-build-instruct`` (MMInstruct question types).

The folder has the OCR engine's layout, so the shards are read by the ``ocr_pages`` reader (images
extracted once into ``options.image_cache``, only committed members read, type hints drawn again from the
run's PromptPool); this reader chooses the question types and domains.

Options: ``types`` (subset of judgement, choice, short, long; null = all), ``domains`` (domain folder
names; null = all), ``image_cache``, ``repick_prompts`` (default true).
"""

from __future__ import annotations

from collections.abc import Iterator

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.ocr_pages import meta_value, read_selected_pages

QUESTION_TYPES = ("judgement", "choice", "short", "long")


@register_reader("instruct_shards")
def read_instruct_shards(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    return read_selected_pages(spec, prompts, {"types": (meta_value("question_type"), QUESTION_TYPES),
                                               "domains": (meta_value("domain"), None)})
