"""Page furniture: running headers, footers and page numbers.

A line is furniture when it lies entirely in the top or bottom ``margin`` share of the page and
either looks like a page number ("12", "- 12 -", "Page 3 of 9", "iv") or, with its digits masked,
repeats in the same margin on another page of the document.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from sphinx_x.data.boxes import Box

PAGE_NUMBER = re.compile(r"(?:page|p\.|seite|pag\.)?\s*[-\u2013\u2014(\[]?\s*(?:\d{1,5}|[ivxlcdm]{1,8})\s*"
                         r"[-\u2013\u2014)\]]?(?:\s*(?:/|of|von)\s*\d{1,5})?", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def margin_zone(box: Box, height: float, margin: float) -> str | None:
    """``top`` / ``bottom`` when ``box`` lies entirely in that margin of a page ``height`` tall."""
    if box[3] <= margin * height:
        return "top"
    if box[1] >= (1 - margin) * height:
        return "bottom"
    return None


def find_furniture(pages: Sequence[tuple[Sequence[tuple[str, Box]], float]], margin: float) -> list[set[int]]:
    """Per page, the indices of its furniture lines; ``pages`` holds each page's ``(text, box)``
    lines and its height (boxes and height in one frame)."""
    candidates: list[list[tuple[int, str]]] = []
    seen: dict[str, set[int]] = defaultdict(set)
    for p, (lines, height) in enumerate(pages):
        mine = []
        for i, (text, box) in enumerate(lines):
            zone = margin_zone(box, height, margin)
            if zone is None:
                continue
            key = f"{zone}:{_DIGITS.sub('#', ' '.join(text.lower().split()))}"
            mine.append((i, key))
            seen[key].add(p)
        candidates.append(mine)
    furniture = []
    for p, (lines, _) in enumerate(pages):
        furniture.append({i for i, key in candidates[p]
                          if len(seen[key]) >= 2 or PAGE_NUMBER.fullmatch(lines[i][0].strip())})
    return furniture
