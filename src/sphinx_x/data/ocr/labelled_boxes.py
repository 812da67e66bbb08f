"""Records whose answer lists labelled boxes, one ``<p>label</p> <region:K>`` a line, split into exclusive
chunks when a page holds too much for one sample (text spotting, layout blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sphinx_x.data.boxes import union_box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.ocr.answers import labelled_cost, labelled_regions
from sphinx_x.data.ocr.chunks import exclusive_chunks
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record

MAX_REGIONS = 40  # boxes per sample
MAX_CHARS = 2000  # answer characters per sample, boxes counted as written out


def labelled_box_records(record_id: str, source: str, task: str, image: str, boxes: Sequence[Sequence[float]],
                         labels: Sequence[str], pool: str, prompts: PromptPool, max_regions: int, max_chars: int,
                         meta: dict[str, Any] | None = None,
                         unit_meta: dict[str, Sequence[Any]] | None = None,
                         holes: Sequence[Sequence[float]] = ()) -> list[Record]:
    """``<p>label</p> <region:K>`` answers, one a line, for boxes given in reading order.

    One record when everything fits (and no hole lies on the page), else one per exclusive chunk,
    asked with ``<pool>_region`` about the chunk's box (``regions[0]``), which covers no hole (text
    left out of the answers). ``unit_meta`` lists (one item per box) are sliced into each record's
    meta to match its answer entries.
    """
    chunks = exclusive_chunks(boxes, [labelled_cost(label) for label in labels], max_regions, max_chars,
                              holes=holes)
    out = []
    for k, chunk in enumerate(chunks):
        dialogue = ImageDialogue(f"{record_id}/{k}" if len(chunks) > 1 else record_id, prompts, reuse_regions=False)
        whole = len(chunks) == 1 and not holes
        fields = {} if whole else {"box": dialogue.box(union_box([boxes[i] for i in chunk]))}
        first = len(dialogue.regions)
        for i in chunk:
            dialogue.box(boxes[i])
        dialogue.ask(pool if whole else f"{pool}_region",
                     labelled_regions([labels[i] for i in chunk], first), **fields)
        extra = {key: [values[i] for i in chunk] for key, values in (unit_meta or {}).items()}
        out.append(dialogue.record(source, task, image, {**(meta or {}), **extra, "part": k, "parts": len(chunks)}))
    return out
