"""Answer formats for OCR tasks, shared by the PDF engine and the public-dataset readers.

Boxes are never written as numbers here: an answer names ``<region:K>`` and the tokeniser writes
``regions[K]`` in the model's frame. Labelled boxes (text spotting, layout) take one line each, so a
spotting answer reads after tokenisation::

    <p>First line; with a semicolon</p> [0.10, 0.05, 0.62, 0.08]
    <p>Second line</p> [0.10, 0.09, 0.60, 0.12]

Labels never hold a line break (whitespace is collapsed) nor ``<p>`` / ``</p>`` (defused), so the
answer parses back exactly (:func:`parse_labelled`), whatever punctuation the text holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Length of a box once written by the tokeniser ("[0.10, 0.05, 0.62, 0.08]"), used to budget answers.
BOX_TEXT_CHARS = 24
SEPARATOR = "\n"
_RESERVED = re.compile(r"<(/?p>|image>|region:)")
_ENTRY = re.compile(r"<p>(.*)</p> (<region:\d+>|\[[^\]]*\])")


def region(k: int) -> str:
    """The placeholder for region ``k``."""
    return f"<region:{k}>"


def clean_text(text: str) -> str:
    """Text safe inside a conversation: whitespace collapsed, and the reserved markup
    (``<image>``, ``<region:``, ``<p>``, ``</p>``) defused with a space after ``<``."""
    text = " ".join(text.split())
    return _RESERVED.sub(r"< \1", text)


def labelled_regions(labels: Sequence[str], first: int = 0) -> str:
    """``<p>label</p> <region:first>``, one entry a line, regions numbered from ``first``."""
    return SEPARATOR.join(f"<p>{clean_text(label)}</p> {region(first + i)}" for i, label in enumerate(labels))


def parse_labelled(answer: str) -> list[tuple[str, str]]:
    """``(label, location)`` per entry of a labelled-boxes answer, the location as written
    (``<region:K>`` or ``[x1, y1, x2, y2]``); a line that is no entry is skipped."""
    entries = []
    for line in answer.split(SEPARATOR):
        match = _ENTRY.fullmatch(line.strip())
        if match:
            entries.append((match.group(1), match.group(2)))
    return entries


def labelled_cost(label: str) -> int:
    """Characters one ``<p>label</p> [box]`` entry and its line break take once the box is written out."""
    return len(label) + len("<p></p> ") + BOX_TEXT_CHARS + len(SEPARATOR)
