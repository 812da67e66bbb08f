"""Multipanel figures (the paper's in-house set, rebuilt from public images): 2-9 images from any source
composed into one figure (grids, rows, columns and a featured large panel), each panel labelled "(a)",
"(b)", ... in a strip above it, with questions answerable from the sources' own annotations.

Boxes of a source image are mapped into the figure's pixels (a panel is its image scaled and placed);
at tokenisation the figure's :class:`~sphinx_x.data.geometry.ImageFrame` writes them in the model frame.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from string import ascii_lowercase
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record
from sphinx_x.engines.som.conversations import SOURCE, stable_pick
from sphinx_x.engines.som.marks import Mark, SomItem

LAYOUTS = ("grid", "row", "column", "featured")
Cell = tuple[int, int, int, int]  # column, row, column span, row span (grid units)


@dataclass(frozen=True)
class Panel:
    """One image placed in the figure: pixel ``x = offset_x + scale * x_source`` (same for y)."""

    letter: str
    item: SomItem
    scale: float
    offset_x: float
    offset_y: float
    rect: tuple[int, int, int, int]  # the panel's cell (label strip included), figure pixels

    @property
    def label(self) -> str:
        """The label drawn above the panel, "(b)"."""
        return f"({self.letter})"

    @property
    def name(self) -> str:
        """The panel named in text, "panel (b)"."""
        return f"panel {self.label}"

    def box(self, box: Sequence[float]) -> Box:
        """A source-image box in figure pixels."""
        return (self.offset_x + self.scale * box[0], self.offset_y + self.scale * box[1],
                self.offset_x + self.scale * box[2], self.offset_y + self.scale * box[3])

    def image_box(self) -> Box:
        return self.box((0, 0, self.item.width, self.item.height))


def layout_cells(n: int, layout: str) -> tuple[list[Cell], int, int]:
    """The ``n`` panel cells of ``layout`` in reading order, and the grid's (columns, rows)."""
    if not 2 <= n <= 9:
        raise ValueError(f"a multipanel figure has 2 to 9 panels, got {n}")
    if layout == "row":
        return [(c, 0, 1, 1) for c in range(n)], n, 1
    if layout == "column":
        return [(0, r, 1, 1) for r in range(n)], 1, n
    if layout == "featured":  # a 2x2 panel top-left, the others filling 3 columns around and below it
        free = [(2, 0), (2, 1)] + [(c, r) for r in range(2, 5) for c in range(3)]
        cells = [(0, 0, 2, 2)] + [(c, r, 1, 1) for c, r in free[:n - 1]]
        return cells, 3, max(2, max(r for _, r, _, _ in cells) + 1)
    if layout == "grid":
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        return [(k % cols, k // cols, 1, 1) for k in range(n)], cols, rows
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def allowed_layouts(n: int) -> list[str]:
    return ["grid"] + (["row"] if n <= 4 else []) + (["column"] if n <= 3 else []) + (["featured"] if n >= 3 else [])


def choose_figure(pool_size: int, index: int, seed: int, min_panels: int, max_panels: int) -> tuple[list[int], str]:
    """Which pool items (distinct) and which layout figure ``index`` uses, from ``(seed, index)``."""
    rng = random.Random(f"{seed}:multipanel:{index}")
    n = rng.randint(min_panels, min(max_panels, pool_size))
    return rng.sample(range(pool_size), n), rng.choice(allowed_layouts(n))


def compose(items: Sequence[SomItem], images: Sequence[Image.Image], layout: str, unit: int = 320,
            gap: int = 8) -> tuple[Image.Image, list[Panel]]:
    """The figure (white background) and its panels; each image fitted and centred below its label."""
    cells, cols, rows = layout_cells(len(items), layout)
    strip = max(14, round(0.09 * unit))
    font = ImageFont.load_default(size=round(0.75 * strip))
    figure = Image.new("RGB", (cols * unit + (cols + 1) * gap, rows * unit + (rows + 1) * gap), (255, 255, 255))
    pen = ImageDraw.Draw(figure)
    panels = []
    for k, (item, image, (col, row, col_span, row_span)) in enumerate(zip(items, images, cells, strict=True)):
        x0, y0 = gap + col * (unit + gap), gap + row * (unit + gap)
        width, height = col_span * unit + (col_span - 1) * gap, row_span * unit + (row_span - 1) * gap
        scale = min(width / item.width, (height - strip) / item.height)
        w, h = max(1, round(item.width * scale)), max(1, round(item.height * scale))
        ox, oy = x0 + (width - w) // 2, y0 + strip + (height - strip - h) // 2
        figure.paste(image.convert("RGB").resize((w, h), Image.Resampling.BICUBIC), (ox, oy))
        panel = Panel(ascii_lowercase[k], item, w / item.width, ox, oy, (x0, y0, x0 + width, y0 + height))
        pen.text((x0 + 2, y0 + (strip - font.size) // 2), panel.label, fill=(0, 0, 0), font=font)
        panels.append(panel)
    return figure, panels


def panel_records(key: str, panels: Sequence[Panel], prompts: PromptPool, max_turns: int = 6,
                  meta: dict[str, Any] | None = None) -> list[Record]:
    """One ``multipanel`` record: how many panels, which panel shows a thing only it shows, which of two
    panels shows more of a thing, where a thing is in a panel (figure box), and captions of panels."""
    dialogue = ImageDialogue(f"{key}/multipanel/0", prompts)
    dialogue.ask("panel_count", str(len(panels)))
    counts = [Counter(m.label for m in p.item.marks) for p in panels]
    in_panels = Counter(label for c in counts for label in c)
    unique = sorted(label for label, n in in_panels.items() if n == 1)
    for label in stable_pick(unique, 2, f"{key}:which"):
        panel = next(p for p, c in zip(panels, counts, strict=True) if label in c)
        dialogue.ask("panel_which", panel.label, thing=f"the {label}" if counts[panels.index(panel)][label] == 1
                     else f"{label} instances")
    pairs = [(label, a, b) for label in sorted(in_panels) for a in range(len(panels)) for b in range(a + 1, len(panels))
             if counts[a][label] and counts[b][label] and counts[a][label] != counts[b][label]
             and label not in panels[a].item.uncountable and label not in panels[b].item.uncountable]
    for label, a, b in stable_pick(pairs, 1, f"{key}:compare"):
        more = panels[a] if counts[a][label] > counts[b][label] else panels[b]
        dialogue.ask("panel_compare", more.label, thing=f"instances of {label}", a=panels[a].name, b=panels[b].name)
    singles = [(p, m) for p, c in zip(panels, counts, strict=True) for m in p.item.marks if c[m.label] == 1]
    for panel, mark in stable_pick(singles, 2, f"{key}:locate"):
        dialogue.ask("panel_locate", dialogue.box(panel.box(mark.box)), thing=mark.label, panel=panel.name)
    for panel in stable_pick([p for p in panels if p.item.caption], 2, f"{key}:caption"):
        dialogue.ask("panel_caption", panel.item.caption, panel=panel.name)  # type: ignore[arg-type]
    del dialogue.turns[2 * max_turns:]
    del dialogue.asked[max_turns:]
    return [dialogue.record(SOURCE, "multipanel", f"{key}.png", meta)]


def panel_marks(panels: Sequence[Panel]) -> dict[str, Mark]:
    """The panels as marks ("a" -> its image box), for the VLM's multipanel annotation."""
    return {p.letter: Mark(p.label, p.image_box()) for p in panels}
