"""Text of one PDF page with word, line and block boxes in the rendered image's pixel frame.

One ``TextPage`` per page feeds both the dict (lines, blocks) and the word extraction, so the text
layer is parsed once. Coordinates go through ``page.rotation_matrix`` and the render scale, the same
transform the renderer applies, so rotated and cropped pages line up with their image.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymupdf

from sphinx_x.data.boxes import Box, clip_box, transform_box, union_box
from sphinx_x.data.ocr.reading_order import reading_order
from sphinx_x.engines.ocr.blocks import block_style, block_text
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.hyphenation import Vocabulary
from sphinx_x.engines.ocr.quality import has_bad_chars

TEXT_FLAGS = pymupdf.TEXT_MEDIABOX_CLIP  # ligatures expanded, whitespace normalised, unknown glyphs -> U+FFFD
MONO_FLAG = 8  # span flag bit: monospaced font
MONO_FONT = re.compile(r"mono|monl|courier|consol|menlo|monaco|typewriter|fixed|cmtt|lmtt|sftt|code", re.IGNORECASE)


@dataclass
class Line:
    text: str
    box: Box
    block: int  # index into PageText.blocks
    size: float  # font size in points
    mono: bool = False  # mostly in a monospace font
    indent: int = 0  # leading spaces written before a monospace line's text
    bad: bool = False  # holds a glyph that did not map to Unicode: left out of every answer
    furniture: bool = False  # running header, footer or page number


@dataclass
class Block:
    box: Box
    kind: str  # "text" or "figure"
    lines: list[int] = field(default_factory=list)  # indices into PageText.lines, in reading order
    text: str = ""  # the lines as read (see :func:`sphinx_x.engines.ocr.blocks.block_text`)
    style: str = "prose"  # prose, code or row


@dataclass
class Words:
    """Words column-wise (a page has hundreds): texts, boxes ``(n, 4)`` and line indices."""

    texts: list[str] = field(default_factory=list)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def keep(self, mask: np.ndarray) -> None:
        self.texts = [t for t, k in zip(self.texts, mask, strict=True) if k]
        self.lines = [ln for ln, k in zip(self.lines, mask, strict=True) if k]
        self.boxes = self.boxes[mask]


@dataclass
class PageText:
    """Blocks in reading order, their lines and words; ``stats`` counts merges and drops."""

    blocks: list[Block]
    lines: list[Line]
    words: Words
    stats: Counter[str]
    invisible_chars: int = 0
    render_matrix: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)  # for page.get_pixmap
    turn: int = 0  # degrees added to the page's own rotation to make its text upright
    size: tuple[float, float] = (0.0, 0.0)  # the rendered page's width and height (boxes' frame)
    vocab: Vocabulary | None = None  # the document's, for hyphenation (set by :meth:`join`)

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks if b.kind == "text")

    @property
    def body_text(self) -> str:
        """The text without furniture (running headers, footers, page numbers)."""
        return "\n".join(ln.text for ln in self.lines if not ln.furniture)

    def join(self, vocab: Vocabulary | None) -> None:
        """(Re)compose every block's text with the document's vocabulary for hyphenation."""
        self.vocab = vocab
        merges = 0
        for block in self.blocks:
            if block.kind == "text":
                block.text, n = block_text([self.lines[i] for i in block.lines], block.style, vocab)
                merges += n
        self.stats["dehyphenated"] = merges

    def shift(self, dx: float, dy: float) -> None:
        """Move every box by ``(-dx, -dy)`` (the rendered pixmap's origin)."""
        if dx or dy:
            for item in [*self.blocks, *self.lines]:
                item.box = (item.box[0] - dx, item.box[1] - dy, item.box[2] - dx, item.box[3] - dy)
            self.words.boxes = self.words.boxes - np.array([dx, dy, dx, dy], dtype=np.float64)

    def clip(self, width: float, height: float) -> None:
        """Clip every box to the rendered image; words left empty are dropped."""
        for block in self.blocks:
            block.box = clip_box(block.box, width, height)
        for line in self.lines:
            line.box = clip_box(line.box, width, height)
        boxes = self.words.boxes
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        self.words.keep((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))

    def to_json(self) -> dict[str, Any]:
        return {
            "blocks": [{"box": _round(b.box), "kind": b.kind, "style": b.style, "lines": b.lines} for b in self.blocks],
            "lines": [{"text": ln.text, "box": _round(ln.box), "block": ln.block, "size": round(ln.size, 2),
                       "mono": ln.mono, "bad": ln.bad, "furniture": ln.furniture} for ln in self.lines],
            "words": {"text": self.words.texts, "box": np.round(self.words.boxes, 2).tolist(),
                      "line": self.words.lines},
        }


def render_scale(page: pymupdf.Page, cfg: OcrConfig) -> tuple[float, bool]:
    """Pixels per point for ``page`` and whether ``max_pixels`` forced it down."""
    rect = page.rect
    scale = cfg.longest_side / max(rect.width, rect.height) if cfg.longest_side else cfg.dpi / 72.0
    area = rect.width * rect.height
    if area * scale * scale > cfg.max_pixels:
        return (cfg.max_pixels / area) ** 0.5, True
    return scale, False


def extract_page(page: pymupdf.Page, scale: float, cfg: OcrConfig, figures: bool = False) -> PageText:
    """Lines, blocks and words of ``page`` in rendered pixels (before clipping to the image).

    The page is rendered as displayed (its ``/Rotate`` applied) and, with ``cfg.upright``, turned
    further by a multiple of 90 degrees when most of its text would otherwise not read left to right.
    """
    textpage = page.get_textpage(flags=TEXT_FLAGS)
    page_dict = textpage.extractDICT()
    turn = _upright_turn(page_dict["blocks"], tuple(page.rotation_matrix)) if cfg.upright else 0
    render = pymupdf.Matrix(scale, scale) * pymupdf.Matrix(turn)
    corner = page.rect * render
    render = render * pymupdf.Matrix(1, 0, 0, 1, -corner.x0, -corner.y0)
    matrix = tuple(page.rotation_matrix * render)
    stats: Counter[str] = Counter()
    stats["pages_uprighted"] += turn != 0
    raw_blocks: list[tuple[Box, list[Line]]] = []
    where: dict[tuple[int, int], tuple[int, int, Box | None]] = {}  # (block_no, line_no) -> (raw block, line, visible box)
    invisible = 0
    for block in page_dict["blocks"]:
        if block.get("type", 0) != 0:
            continue
        lines: list[Line] = []
        pending: list[tuple[tuple[int, int], int, Box | None]] = []
        for line_no, line in enumerate(block["lines"]):
            kept, hidden = _visible_spans(line["spans"], cfg.drop_invisible_text)
            invisible += hidden
            raw = "".join(s["text"] for s in kept)
            text = raw.strip()
            if not text:
                continue
            if not cfg.keep_vertical_text and not _left_to_right(line["dir"], matrix):
                stats["vertical_lines"] += 1
                continue
            partial = len(kept) < len(line["spans"])
            box = transform_box(union_box([s["bbox"] for s in kept]) if partial else line["bbox"], matrix)
            pending.append(((block["number"], line_no), len(lines), box if partial else None))
            mono = _monospace(kept)
            lines.append(Line(text, box, -1, max(s["size"] for s in kept), mono,
                              len(raw) - len(raw.lstrip()) if mono else 0, has_bad_chars(text)))
        if lines:
            merged, remap = _merge_fragments(lines) if cfg.merge_splits else (lines, list(range(len(lines))))
            stats["merged_lines"] += len(lines) - len(merged)
            for key, li, visible in pending:
                where[key] = (len(raw_blocks), remap[li], visible)
            raw_blocks.append((union_box([ln.box for ln in merged]), merged))
    figure_boxes = _figure_boxes(page, matrix, scale) if figures and page.get_images(full=False) else []
    page_text = _assemble(raw_blocks, figure_boxes, stats)
    page_text.invisible_chars = invisible
    page_text.words = _words(textpage, where, raw_blocks, page_text, matrix)
    page_text.render_matrix = tuple(render)
    page_text.turn = turn
    page_text.size = (corner.width, corner.height)
    return page_text


def has_images(page: pymupdf.Page) -> bool:
    """Whether the page draws any image (a scanned page without a text layer does)."""
    return bool(page.get_images(full=False)) and bool(page.get_image_info())


def _monospace(spans: list[dict]) -> bool:
    """Whether most characters of the spans are in a monospace font."""
    mono = sum(len(s["text"]) for s in spans if s["flags"] & MONO_FLAG or MONO_FONT.search(s["font"]))
    return mono * 2 > sum(len(s["text"]) for s in spans)


def _visible_spans(spans: list[dict], drop_invisible: bool) -> tuple[list[dict], int]:
    if not drop_invisible:
        return spans, 0
    kept = [s for s in spans if s.get("alpha", 255) > 0]
    hidden = sum(len("".join(s["text"].split())) for s in spans if s.get("alpha", 255) <= 0)
    return kept, hidden


def _upright_turn(blocks: list[dict], rotation: tuple[float, ...]) -> int:
    """Extra rotation (0, 90, 180 or 270) that makes the page's dominant text direction left to right."""
    weights: Counter[tuple[int, int]] = Counter()
    for block in blocks:
        for line in block.get("lines", ()):
            dx, dy = line["dir"]
            rx, ry = dx * rotation[0] + dy * rotation[2], dx * rotation[1] + dy * rotation[3]
            axis = (round(rx), 0) if abs(rx) >= abs(ry) else (0, round(ry))
            weights[axis] += sum(len(s["text"]) for s in line["spans"])
    if not weights:
        return 0
    (vx, vy), weight = weights.most_common(1)[0]
    if (vx, vy) == (1, 0) or weight < 0.5 * sum(weights.values()):
        return 0
    for turn in (90, 180, 270):
        m = pymupdf.Matrix(turn)
        if vx * m.a + vy * m.c > 0.5:
            return turn
    return 0


def _left_to_right(direction: tuple[float, float], m: tuple[float, ...]) -> bool:
    dx, dy = direction
    rx, ry = dx * m[0] + dy * m[2], dx * m[1] + dy * m[3]
    return rx > 0 and abs(ry) <= 0.1 * rx


def _merge_fragments(lines: list[Line]) -> tuple[list[Line], list[int]]:
    """Join consecutive lines of a block that sit on one baseline close together (text that the
    PDF wrote in pieces); returns the merged lines and, per input line, its merged index."""
    merged = [lines[0]]
    remap = [0]
    for line in lines[1:]:
        prev = merged[-1]
        height = min(prev.box[3] - prev.box[1], line.box[3] - line.box[1])
        overlap = min(prev.box[3], line.box[3]) - max(prev.box[1], line.box[1])
        gap = line.box[0] - prev.box[2]
        if height > 0 and overlap >= 0.5 * height and -0.2 * height <= gap <= height:
            joiner = " " if gap > 0.15 * height else ""
            merged[-1] = Line(prev.text + joiner + line.text, union_box([prev.box, line.box]), -1,
                              max(prev.size, line.size), prev.mono and line.mono, prev.indent, prev.bad or line.bad)
        else:
            merged.append(line)
        remap.append(len(merged) - 1)
    return merged, remap


def _figure_boxes(page: pymupdf.Page, m: tuple[float, ...], scale: float) -> list[Box]:
    """Boxes of drawn images larger than 1% of the page and smaller than 90% (not backgrounds)."""
    page_area = page.rect.width * page.rect.height * scale * scale
    boxes = []
    for info in page.get_image_info():
        box = transform_box(info["bbox"], m)
        if 0.01 * page_area <= _area(box) <= 0.9 * page_area:
            boxes.append(box)
    return boxes


def _assemble(raw_blocks: list[tuple[Box, list[Line]]], figures: list[Box], stats: Counter[str]) -> PageText:
    boxes = [b for b, _ in raw_blocks] + figures
    blocks: list[Block] = []
    lines: list[Line] = []
    for i in reading_order(boxes):
        if i >= len(raw_blocks):
            blocks.append(Block(boxes[i], "figure"))
            continue
        block = Block(boxes[i], "text", style=block_style(raw_blocks[i][1]))
        for line in raw_blocks[i][1]:
            line.block = len(blocks)
            block.lines.append(len(lines))
            lines.append(line)
        blocks.append(block)
    page_text = PageText(_merge_code_blocks(blocks, lines), lines, Words(), stats)
    page_text.join(None)
    return page_text


def _merge_code_blocks(blocks: list[Block], lines: list[Line]) -> list[Block]:
    """One block per code listing: MuPDF starts a new block at each line whose x offset differs,
    so consecutive code blocks stacked less than a line apart are merged."""
    merged: list[Block] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if (prev is not None and prev.style == block.style == "code"
                and 0 <= block.box[1] - prev.box[3] + 1 <= lines[prev.lines[-1]].box[3] - lines[prev.lines[-1]].box[1]
                and block.box[0] < prev.box[2] and prev.box[0] < block.box[2]):
            prev.lines += block.lines
            prev.box = union_box([prev.box, block.box])
        else:
            merged.append(block)
    for b, block in enumerate(merged):
        for i in block.lines:
            lines[i].block = b
    return merged


def _words(textpage: pymupdf.TextPage, where: dict, raw_blocks: list, page_text: PageText,
           m: tuple[float, ...]) -> Words:
    index = {id(line): k for k, line in enumerate(page_text.lines)}
    texts, raw, lines, visible = [], [], [], []
    for x0, y0, x1, y1, text, block_no, line_no, _ in textpage.extractWORDS():
        hit = where.get((block_no, line_no))
        if hit is None:
            continue
        b, li, vis = hit
        texts.append(text)
        raw.append((x0, y0, x1, y1))
        lines.append(index[id(raw_blocks[b][1][li])])
        visible.append(vis)
    if not texts:
        return Words()
    pts = np.asarray(raw, dtype=np.float64)
    a, b, c, d, e, f = m
    xa, ya = pts[:, 0] * a + pts[:, 1] * c + e, pts[:, 0] * b + pts[:, 1] * d + f
    xb, yb = pts[:, 2] * a + pts[:, 3] * c + e, pts[:, 2] * b + pts[:, 3] * d + f
    boxes = np.stack([np.minimum(xa, xb), np.minimum(ya, yb), np.maximum(xa, xb), np.maximum(ya, yb)], axis=1)
    words = Words(texts, boxes, lines)
    if any(v is not None for v in visible):
        words.keep(np.array([v is None or _centre_inside(tuple(bx), v) for bx, v in zip(boxes, visible, strict=True)]))
    return words


def _centre_inside(box: Box, outer: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _round(box: Box) -> list[float]:
    return [round(float(v), 2) for v in box]
