"""Reading samples that follow the page's layout.

A page is one "read all the text" sample when its text fits ``reading_max_chars`` and nothing on it
is left out. Otherwise its units (blocks; a table as one unit; a block too long for one sample as
its lines) are split, in reading order, into the fewest chunks that fit and whose box covers no
other text, each asked as "read the text inside <box>"; a chunk shorter than ``min_reading_chars``
is no sample. Lines with unmapped glyphs are never read (holes no chunk may cover); running headers,
footers and page numbers are read last, dropped (holes) or read in place (``furniture``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sphinx_x.data.boxes import Box, union_box
from sphinx_x.data.ocr.answers import clean_text
from sphinx_x.data.ocr.chunks import exclusive_chunks, holds_only
from sphinx_x.engines.ocr.blocks import block_text, tables
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.extract import PageText


@dataclass
class Unit:
    """Consecutive lines (indices into ``PageText.lines``) that a reading chunk never splits."""

    lines: list[int]
    box: Box
    cost: int


@dataclass
class Chunk:
    """One reading sample: its text, its box and whether it is the whole page."""

    text: str
    box: Box
    whole: bool


def reading_chunks(page: PageText, usable: set[int], cfg: OcrConfig) -> list[Chunk]:
    """The page's reading samples (see the module docstring); counts drops in ``page.stats``."""
    units, holes = reading_units(page, usable, cfg)
    if not units:
        return []
    groups = exclusive_chunks([u.box for u in units], [u.cost for u in units], len(units), cfg.reading_max_chars,
                              holes=holes)
    whole = len(groups) == 1 and not holes
    every = [u.box for u in units] + holes
    out = []
    for group in groups:
        lines = [i for k in group for i in units[k].lines]
        box = union_box([units[k].box for k in group])
        text = read_text(page, lines)
        if len(text) < cfg.min_reading_chars:
            page.stats["reading_short_dropped"] += 1
        elif not whole and not holds_only(every, box, group):
            page.stats["reading_overlap_dropped"] += 1
        else:
            out.append(Chunk(text, box, whole))
    return out


def reading_units(page: PageText, usable: set[int], cfg: OcrConfig) -> tuple[list[Unit], list[Box]]:
    """Units in reading order, and the boxes of lines no reading sample may hold."""
    holes: list[Box] = []
    segments: list[list[int]] = []  # per block, runs of body lines
    owner: list[int] = []  # block of each segment
    furniture: list[int] = []
    for b, block in enumerate(page.blocks):
        run: list[int] = []
        for i in block.lines:
            line = page.lines[i]
            if i not in usable:
                continue
            if line.bad or (line.furniture and cfg.furniture == "drop"):
                holes.append(line.box)
            elif line.furniture and cfg.furniture == "last":
                furniture.append(i)
            else:
                run.append(i)
                continue
            if run:
                segments.append(run)
                owner.append(b)
            run = []
        if run:
            segments.append(run)
            owner.append(b)
    table_of: dict[int, int] = {}
    for t, members in enumerate(tables([b.style for b in page.blocks], [b.box for b in page.blocks],
                                       [len(b.lines) for b in page.blocks])):
        table_of.update({b: t for b in members})
    units: list[Unit] = []
    k = 0
    while k < len(segments):
        same = [k]
        table = table_of.get(owner[k])
        while table is not None and same[-1] + 1 < len(segments) and table_of.get(owner[same[-1] + 1]) == table:
            same.append(same[-1] + 1)
        whole = _unit(page, [i for s in same for i in segments[s]])
        if whole.cost <= cfg.reading_max_chars:
            units.append(whole)
        else:
            for s in same:
                seg = _unit(page, segments[s])
                units += [seg] if seg.cost <= cfg.reading_max_chars else [_unit(page, [i]) for i in segments[s]]
        k = same[-1] + 1
    units += [_unit(page, [i]) for i in furniture]
    return units, holes


def read_text(page: PageText, lines: Sequence[int]) -> str:
    """Lines (indices, in reading order) as text: each block's lines as the block reads them
    (code keeps its line breaks and indentation), blocks on separate lines."""
    paragraphs: list[str] = []
    start = 0
    for k in range(1, len(lines) + 1):
        if k == len(lines) or page.lines[lines[k]].block != page.lines[lines[start]].block:
            members = [page.lines[i] for i in lines[start:k]]
            style = page.blocks[members[0].block].style
            paragraphs.append(clean_block(block_text(members, style, page.vocab)[0], style))
            start = k
    return "\n".join(p for p in paragraphs if p)


def clean_block(text: str, style: str) -> str:
    """Block text safe in an answer: code keeps its line breaks and leading spaces."""
    if style != "code":
        return clean_text(text)
    lines = [(len(ln) - len(ln.lstrip(" ")), clean_text(ln)) for ln in text.split("\n")]
    return "\n".join(" " * n + ln for n, ln in lines if ln)


def _unit(page: PageText, lines: list[int]) -> Unit:
    members = [page.lines[i] for i in lines]
    return Unit(lines, union_box([ln.box for ln in members]), sum(len(ln.text) + 1 for ln in members))
