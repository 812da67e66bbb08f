"""What the OCR dataset readers (layout sets, DocBank, scene text) share: their box checks and
labelled-box records in reading order, split by the source's ``options.max_regions`` /
``options.max_chars`` (see docs/ocr.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sphinx_x.data.boxes import Box
from sphinx_x.data.ocr.labelled_boxes import MAX_CHARS, MAX_REGIONS, labelled_box_records
from sphinx_x.data.ocr.reading_order import reading_order, row_order
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record
from sphinx_x.data.sources.base import SourceSpec
from sphinx_x.data.sources.checked_boxes import checked_box


def page_box(spec: SourceSpec, box: Sequence[float], size: tuple[float, float], rid: str) -> Box:
    """``box`` clipped to the page; more than ``options.box_tolerance`` (default 2% of the long side)
    outside, or empty after clipping, is a RecordError for the whole image."""
    tolerance = (spec.options or {}).get("box_tolerance", 0.02 * max(size))
    return checked_box(box, size, rid, tolerance=tolerance)


def box_limits(spec: SourceSpec) -> tuple[int, int]:
    """(boxes, answer characters) per record: ``options.max_regions`` and ``options.max_chars``."""
    return int(spec.options.get("max_regions", MAX_REGIONS)), int(spec.options.get("max_chars", MAX_CHARS))


def ordered_box_records(spec: SourceSpec, prompts: PromptPool, rid: str, image: str, boxes: Sequence[Box],
                        labels: Sequence[str], pool: str, meta: dict[str, Any],
                        unit_meta: dict[str, Sequence[Any]] | None = None, rows: bool = False) -> list[Record]:
    """Labelled boxes sorted into reading order (XY-cut for documents, rows for scene text), as one
    or more records."""
    order = row_order(boxes) if rows else reading_order(boxes)
    extra = {k: [v[i] for i in order] for k, v in (unit_meta or {}).items()}
    return labelled_box_records(rid, spec.name, spec.task, image, [boxes[i] for i in order],
                                [labels[i] for i in order], pool, prompts, *box_limits(spec), meta, extra)
