"""Records for one page: full-page reading, text spotting, region reading, text grounding, layout.

A page whose answer would exceed its budget becomes several samples, each about a chunk of
consecutive units whose box holds nothing else; the question then names that box, so every sample
stays exactly answerable and no text is cut (reading: :mod:`sphinx_x.engines.ocr.reading`). Lines
with glyphs that did not map to Unicode are in no answer, and no question's box covers them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.ocr.answers import clean_text
from sphinx_x.data.ocr.chunks import holds_only
from sphinx_x.data.ocr.labelled_boxes import labelled_box_records
from sphinx_x.data.ocr.task_names import TASK_NAMES
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.extract import Line, PageText
from sphinx_x.engines.ocr.reading import clean_block, read_text, reading_chunks


@dataclass(frozen=True)
class PageInfo:
    key: str
    pdf: str
    page: int
    width: int
    height: int

    def meta(self, part: int, parts: int) -> dict[str, Any]:
        return {"pdf": self.pdf, "page": self.page, "part": part, "parts": parts}


def page_records(info: PageInfo, text: PageText, cfg: OcrConfig, prompts: PromptPool) -> list[Record]:
    """Every configured task's records for one page (in ``cfg.tasks`` order); ``lines`` are those
    with a box and readable text (unmapped glyphs excluded)."""
    lines = [ln for ln in text.lines if _usable(ln.box) and clean_text(ln.text) and not ln.bad]
    records: list[Record] = []
    for task in cfg.tasks:
        records += BUILDERS[task](info, text, lines, cfg, prompts)
    return records


def reading(info: PageInfo, text: PageText, lines: list[Line], cfg: OcrConfig, prompts: PromptPool) -> list[Record]:
    usable = {i for i, ln in enumerate(text.lines) if _usable(ln.box) and clean_text(ln.text)}
    chunks = reading_chunks(text, usable, cfg)
    out = []
    for k, chunk in enumerate(chunks):
        dialogue = _dialogue(f"{info.key}/reading/{k}" if len(chunks) > 1 else f"{info.key}/reading", prompts)
        if chunk.whole:
            dialogue.ask("ocr_page", chunk.text)
        else:
            dialogue.ask("ocr_region", chunk.text, box=dialogue.box(chunk.box))
        out.append(dialogue.record("pdf_ocr", TASK_NAMES["reading"], f"{info.key}.png", info.meta(k, len(chunks))))
    return out


def spotting(info: PageInfo, text: PageText, lines: list[Line], cfg: OcrConfig, prompts: PromptPool) -> list[Record]:
    labels = [clean_text(ln.text) for ln in lines]
    holes = [ln.box for ln in text.lines if ln.bad and _usable(ln.box)]
    return _labelled_boxes(info, "spotting", "text_spotting", [ln.box for ln in lines], labels, cfg, prompts, holes)


def layout(info: PageInfo, text: PageText, lines: list[Line], cfg: OcrConfig, prompts: PromptPool) -> list[Record]:
    blocks = [b for b in text.blocks if _usable(b.box)]
    return _labelled_boxes(info, "layout", "layout_blocks", [b.box for b in blocks], [b.kind for b in blocks], cfg, prompts)


def region_reading(info: PageInfo, text: PageText, lines: list[Line], cfg: OcrConfig,
                   prompts: PromptPool) -> list[Record]:
    """Questions about the text inside a block (a line when its block is too long to answer)."""
    limit = cfg.max_chars // 2
    usable = {id(ln) for ln in lines}
    units: list[tuple[Box, str, list[int]]] = []
    for block in text.blocks:
        if block.kind != "text" or not _usable(block.box):
            continue
        if len(block.text) <= limit and all(id(text.lines[i]) in usable for i in block.lines):
            units.append((block.box, clean_block(block.text, block.style), block.lines))
        else:
            units += [(text.lines[i].box, text.lines[i].text, [i]) for i in block.lines
                      if id(text.lines[i]) in usable and len(text.lines[i].text) <= limit]
    boxes = [ln.box for ln in text.lines]
    dialogue = _dialogue(f"{info.key}/region_reading", prompts)
    used = 0
    for box, answer, members in _sample(units, len(units), f"{cfg.seed}:{info.key}:region", ordered=False):
        if len(dialogue.asked) == cfg.qa_per_page or used + len(answer) > cfg.max_chars:
            break
        if answer.strip() and holds_only(boxes, box, members):
            dialogue.ask("ocr_region", answer if "\n" in answer else clean_text(answer), box=dialogue.box(box))
            used += len(answer)
    return [_single(dialogue, info, "region_reading")] if dialogue.turns else []


def grounding(info: PageInfo, text: PageText, lines: list[Line], cfg: OcrConfig, prompts: PromptPool) -> list[Record]:
    counts: dict[str, int] = {}
    for ln in text.lines:
        norm = " ".join(ln.text.lower().split())
        counts[norm] = counts.get(norm, 0) + 1
    candidates = [ln for ln in lines if cfg.min_grounding_chars <= len(clean_text(ln.text)) <= 200
                  and counts[" ".join(ln.text.lower().split())] == 1]
    dialogue = _dialogue(f"{info.key}/grounding", prompts)
    for ln in _sample(candidates, cfg.qa_per_page, f"{cfg.seed}:{info.key}:grounding"):
        tag = dialogue.box(ln.box)
        dialogue.ask("text_grounding", tag, text=clean_text(ln.text))
    return [_single(dialogue, info, "grounding")] if dialogue.turns else []


def read_lines(text: PageText) -> str:
    """Every line of the page in reading order, read as :func:`reading` reads them."""
    return read_text(text, list(range(len(text.lines))))


def _labelled_boxes(info: PageInfo, task: str, pool: str, boxes: list[Box], labels: list[str], cfg: OcrConfig,
                    prompts: PromptPool, holes: list[Box] | None = None) -> list[Record]:
    return labelled_box_records(f"{info.key}/{task}", "pdf_ocr", TASK_NAMES[task], f"{info.key}.png", boxes, labels,
                                pool, prompts, cfg.max_regions, cfg.max_chars, info.meta(0, 1), holes=holes or ())


def _dialogue(record_id: str, prompts: PromptPool) -> ImageDialogue:
    """A dialogue whose every box is a new region (answers and questions name them by position)."""
    return ImageDialogue(record_id, prompts, reuse_regions=False)


def _single(dialogue: ImageDialogue, info: PageInfo, task: str) -> Record:
    return dialogue.record("pdf_ocr", TASK_NAMES[task], f"{info.key}.png", info.meta(0, 1))


def _sample(items: list, n: int, salt: str, ordered: bool = True) -> list:
    """Up to ``n`` items chosen by a stable hash (same build -> same choice), in page order
    (or in the chosen order when ``ordered`` is False)."""
    ranked = sorted(range(len(items)), key=lambda i: hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest())
    chosen = sorted(ranked[:n]) if ordered else ranked[:n]
    return [items[i] for i in chosen]


def _usable(box: Box) -> bool:
    return box[2] - box[0] >= 1 and box[3] - box[1] >= 1


Builder = Callable[[PageInfo, PageText, list[Line], OcrConfig, PromptPool], list[Record]]
BUILDERS: dict[str, Builder] = {"reading": reading, "spotting": spotting, "region_reading": region_reading,
                                "grounding": grounding, "layout": layout}
