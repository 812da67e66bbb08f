"""What a text block is (prose, code, a table row) and how its lines read as text.

- **code**: every line mostly in a monospace font; its lines keep their breaks and indentation
  (from leading spaces or, in PDFs that position each line, from the x offset).
- **row**: two or more lines side by side on one visual line (table cells); read left to right.
- **prose**: everything else; lines joined by spaces with hyphenation resolved.

A **table** is a run of consecutive row blocks stacked closely, from the first to the last block
with several cells (single-cell rows in between belong to it); it is read row by row and kept whole
in one reading sample when it fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sphinx_x.data.boxes import Box
from sphinx_x.engines.ocr.hyphenation import Vocabulary, join_lines


class LineLike(Protocol):
    text: str
    box: Box
    mono: bool
    indent: int


def block_style(lines: Sequence[LineLike]) -> str:
    """``code``, ``row`` or ``prose`` (see the module docstring)."""
    if lines and all(ln.mono for ln in lines):
        return "code"
    if len(lines) >= 2 and _one_row([ln.box for ln in lines]):
        return "row"
    return "prose"


def block_text(lines: Sequence[LineLike], style: str, vocab: Vocabulary | None = None) -> tuple[str, int]:
    """The block's lines as text, and the number of hyphenation joins made."""
    if not lines:
        return "", 0
    if style == "code":
        return "\n".join(code_rows(lines)), 0
    if style == "row":
        return " ".join(ln.text for ln in sorted(lines, key=lambda ln: ln.box[0])), 0
    return join_lines([ln.text for ln in lines], vocab)


def code_rows(lines: Sequence[LineLike]) -> list[str]:
    """Code as written: one string per visual row (pieces on one baseline joined with the spaces
    their gap holds), indented by leading spaces or by the x offset in character widths."""
    widths = [(ln.box[2] - ln.box[0]) / (len(ln.text) + ln.indent) for ln in lines if ln.text]
    char = sorted(widths)[len(widths) // 2] if widths else 0.0
    left = min(ln.box[0] for ln in lines)
    rows: list[list[LineLike]] = []
    for line in lines:
        if rows and _one_row([rows[-1][0].box, line.box]):
            rows[-1].append(line)
        else:
            rows.append([line])
    out = []
    for row in rows:
        row = sorted(row, key=lambda ln: ln.box[0])
        text = " " * max(row[0].indent, _spaces(row[0].box[0] - left, char, 0)) + row[0].text
        for prev, line in zip(row, row[1:], strict=False):
            text += " " * _spaces(line.box[0] - prev.box[2], char, 1) + line.text
        out.append(text)
    return out


def _spaces(gap: float, char: float, least: int) -> int:
    return max(least, round(gap / char)) if char > 0 else least


def tables(styles: Sequence[str], boxes: Sequence[Box], cells: Sequence[int]) -> list[list[int]]:
    """Runs of block indices (in reading order) that form tables: consecutive ``row`` blocks or
    one-line blocks (``cells`` = 1) stacked less than a row height apart, trimmed to start and end
    at a block with several cells, with at least two such blocks."""
    found: list[list[int]] = []
    run: list[int] = []
    for i, (style, box) in enumerate(zip(styles, boxes, strict=True)):
        fits = style == "row" or (cells[i] == 1 and style != "code")
        if fits and run:
            prev = boxes[run[-1]]
            height = min(prev[3] - prev[1], box[3] - box[1])
            fits = 0 <= box[1] - prev[3] + 1 <= height and box[0] < prev[2] and prev[0] < box[2]
            if not fits:
                found += _trim(run, styles)
                run = []
                fits = style == "row" or (cells[i] == 1 and style != "code")
        if fits:
            run.append(i)
        else:
            found += _trim(run, styles)
            run = []
    found += _trim(run, styles)
    return found


def _trim(run: list[int], styles: Sequence[str]) -> list[list[int]]:
    rows = [k for k, i in enumerate(run) if styles[i] == "row"]
    if len(rows) < 2:
        return []
    return [run[rows[0]:rows[-1] + 1]]


def _one_row(boxes: Sequence[Box]) -> bool:
    """Whether the boxes lie side by side on one visual line."""
    top = max(b[1] for b in boxes)
    bottom = min(b[3] for b in boxes)
    height = min(b[3] - b[1] for b in boxes)
    return height > 0 and bottom - top >= 0.5 * height
