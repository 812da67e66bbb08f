"""Answer formats for OCR tasks, shared by the PDF engine and the public-dataset readers.

Boxes are never written as numbers here: an answer names ``<region:K>`` and the tokeniser writes
``regions[K]`` in the model's frame, so a spotting answer reads after tokenisation
``<p>First line</p> [0.10, 0.05, 0.62, 0.08]; <p>Second line</p> [0.10, 0.09, 0.60, 0.12]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Length of a box once written by the tokeniser ("[0.10, 0.05, 0.62, 0.08]"), used to budget answers.
BOX_TEXT_CHARS = 24
SEPARATOR = "; "
_RESERVED = re.compile(r"<(/?p>|image>|region:)")


def region(k: int) -> str:
    """The placeholder for region ``k``."""
    return f"<region:{k}>"


def clean_text(text: str) -> str:
    """Text safe inside a conversation: whitespace collapsed, and the reserved markup
    (``<image>``, ``<region:``, ``<p>``, ``</p>``) defused with a space after ``<``."""
    text = " ".join(text.split())
    return _RESERVED.sub(r"< \1", text)


def labelled_regions(labels: Sequence[str], first: int = 0) -> str:
    """``<p>label</p> <region:first>; <p>label</p> <region:first+1>; ...``."""
    return SEPARATOR.join(f"<p>{clean_text(label)}</p> {region(first + i)}" for i, label in enumerate(labels))


def labelled_cost(label: str) -> int:
    """Characters one ``<p>label</p> [box]; `` entry takes once the box is written out."""
    return len(label) + len("<p></p> ") + BOX_TEXT_CHARS + len(SEPARATOR)
