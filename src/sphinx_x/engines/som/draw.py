"""Drawing Set-of-Mark marks: numeric labels, box outlines, mask outlines with translucent fills, points.

Deterministic from ``(seed, key)``: which marks are drawn (tiny regions and those beyond the cap are left
out, the largest kept), where each label goes (inside its region, for masks as far from the edge as
possible, never overlapping another label), the numbering (reading order of the drawn marks) and the
colours (a shuffled palette of well separated hues; label text black or white, whichever contrasts more).
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sphinx_x.engines.som.marks import Mark, rle_area

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive) in pixels
Colour = tuple[int, int, int]
_GRID = 256  # label positions are searched on a mask downsampled to at most this many pixels a side


@dataclass(frozen=True)
class MarkStyle:
    """How marks are chosen and drawn (stored with every record, so a drawing can be redone)."""

    seed: int = 0
    max_marks: int = 20  # cap per image; the largest regions are kept ("over_cap")
    min_area: float = 64.0  # pixels; smaller regions are not marked ("tiny")
    min_side: float = 6.0  # pixels; thinner boxes are not marked ("tiny")
    font_size: int | None = None  # None: 2.5% of the long image side, clamped to 12..48
    fill_alpha: float = 0.3  # opacity of mask fills

    def __post_init__(self) -> None:
        if self.max_marks < 1 or not 0.0 <= self.fill_alpha <= 1.0 or self.min_area < 0 or self.min_side < 0:
            raise ValueError("som style: max_marks >= 1, 0 <= fill_alpha <= 1, min_area and min_side >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PlacedMark:
    """A drawn mark: its identifier ``number`` (1..N), its index in the item's marks, its label's box."""

    number: int
    index: int
    label_box: Rect
    colour: Colour


@dataclass
class Drawing:
    image: Image.Image  # the marked image (RGB)
    placed: list[PlacedMark]  # in number order
    skipped: dict[int, str]  # mark index -> "tiny" | "over_cap" | "no_label_room"


def draw_marks(image: Image.Image, marks: Sequence[Mark], style: MarkStyle, key: str) -> Drawing:
    """Choose, place, number and draw ``marks`` on a copy of ``image``."""
    width, height = image.size
    chosen, skipped = choose_marks(marks, style)
    font_size = style.font_size or min(48, max(12, round(0.025 * max(width, height))))
    font = ImageFont.load_default(size=font_size)
    masks = {i: _region_mask(marks[i], width, height, font_size) for i in chosen}
    taken: list[Rect] = []
    rects: dict[int, Rect] = {}
    for i in sorted(chosen, key=lambda i: (int(masks[i].sum()), i)):  # small regions choose first
        text = str(len(chosen))  # the widest number that can occur
        rect = place_label(masks[i], _label_size(font, text), taken)
        if rect is None:
            skipped[i] = "no_label_room"
            continue
        rects[i] = rect
        taken.append(rect)
    order = sorted(rects, key=lambda i: (marks[i].box[1], marks[i].box[0], i))
    palette = mark_palette(len(order), style.seed, key)
    placed = [PlacedMark(n + 1, i, rects[i], palette[n]) for n, i in enumerate(order)]
    for mark in placed:  # the label box is sized for its own number, centred where the widest fits
        mark.label_box = _shrink(mark.label_box, _label_size(font, str(mark.number)))
    return Drawing(_render(image, marks, placed, masks, font, style), placed, dict(sorted(skipped.items())))


def choose_marks(marks: Sequence[Mark], style: MarkStyle) -> tuple[list[int], dict[int, str]]:
    """Indices of the marks to draw (at most ``max_marks``, largest first) and why the others are not."""
    skipped: dict[int, str] = {}
    sized: list[tuple[float, int]] = []
    for i, mark in enumerate(marks):
        x1, y1, x2, y2 = mark.box
        area = rle_area(mark.rle) if mark.rle else (x2 - x1) * (y2 - y1)
        if mark.point is None and (area < style.min_area or min(x2 - x1, y2 - y1) < style.min_side):
            skipped[i] = "tiny"
            continue
        sized.append((-area, i))
    ranked = [i for _, i in sorted(sized)]
    skipped.update({i: "over_cap" for i in ranked[style.max_marks:]})
    return sorted(ranked[:style.max_marks]), skipped


def place_label(mask: np.ndarray, size: tuple[int, int], taken: Sequence[Rect]) -> Rect | None:
    """A ``size`` (w, h) label box inside the image whose centre lies in ``mask`` and that overlaps no box
    in ``taken``; positions far from the mask's edge first, a box wholly inside the mask preferred."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    crop = mask[y0:y1, x0:x1]
    f = max(1, math.ceil(max(crop.shape) / _GRID))
    step = max(1, min(size) // (2 * f))
    dist = inside_distance(crop[::f, ::f])  # (h / f, w / f)
    grid = np.zeros_like(dist, dtype=bool)
    grid[::step, ::step] = True
    cy, cx = np.nonzero((dist > 0) & grid)
    order = np.lexsort((cx, cy, -dist[cy, cx]))
    fallback: Rect | None = None
    for j in order:
        rect = _centred(x0 + cx[j] * f + f // 2, y0 + cy[j] * f + f // 2, size, width, height)
        if any(_overlap(rect, other) for other in taken):
            continue
        if _holds(mask, rect):
            return rect
        if fallback is None and mask[(rect[1] + rect[3]) // 2, (rect[0] + rect[2]) // 2]:
            fallback = rect
    return fallback


def inside_distance(mask: np.ndarray) -> np.ndarray:
    """Distance transform: for each pixel of ``mask``, the number of erosions it survives (alternating
    4- and 8-neighbour steps, an octagonal approximation of the Euclidean distance to the nearest pixel
    outside the mask; beyond the array counts as outside). 0 outside the mask."""
    dist = np.zeros(mask.shape, np.int32)
    current = np.pad(mask.astype(bool), 1)
    step = 0
    while current.any():
        dist += current[1:-1, 1:-1]
        inner = current[1:-1, 1:-1] & current[:-2, 1:-1] & current[2:, 1:-1] & current[1:-1, :-2] & current[1:-1, 2:]
        if step % 2:
            inner &= current[:-2, :-2] & current[:-2, 2:] & current[2:, :-2] & current[2:, 2:]
        current = np.pad(inner, 1)
        step += 1
    return dist


def mark_palette(n: int, seed: int, key: str) -> list[Colour]:
    """``n`` colours: 16 evenly spaced saturated hues, shuffled per image from ``(seed, key)``."""
    hues = [colorsys.hsv_to_rgb(k / 16, 0.85, 0.95) for k in range(16)]
    rng = random.Random(int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "little"))
    rng.shuffle(hues)
    return [tuple(round(255 * c) for c in hues[k % 16]) for k in range(n)]  # type: ignore[misc]


def text_colour(background: Colour) -> Colour:
    """Black or white, whichever has the higher WCAG contrast with ``background``."""
    def linear(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(background[0]) + 0.7152 * linear(background[1]) + 0.0722 * linear(background[2])
    return (0, 0, 0) if luminance > 0.179 else (255, 255, 255)


# ---------------------------------------------------------------------------------------------- helpers
def _region_mask(mark: Mark, width: int, height: int, font_size: int) -> np.ndarray:
    """(height, width) bool: where the mark's label may go; a point's is a ring around the point."""
    if mark.point is None:
        return mark.mask(width, height)
    yy, xx = np.ogrid[:height, :width]
    squared = (xx - mark.point[0]) ** 2 + (yy - mark.point[1]) ** 2
    return (squared <= (2.5 * font_size) ** 2) & (squared > (1.2 * font_size) ** 2)  # a ring: the dot stays visible


def _label_size(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, round(font.size / 5))
    return right - left + 2 * pad, bottom - top + 2 * pad


def _centred(cx: float, cy: float, size: tuple[int, int], width: int, height: int) -> Rect:
    w, h = size
    x1 = int(min(max(round(cx - w / 2), 0), max(width - w, 0)))
    y1 = int(min(max(round(cy - h / 2), 0), max(height - h, 0)))
    return x1, y1, x1 + w, y1 + h


def _shrink(rect: Rect, size: tuple[int, int]) -> Rect:
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    x1, y1 = round(cx - size[0] / 2), round(cy - size[1] / 2)
    return x1, y1, x1 + size[0], y1 + size[1]


def _overlap(a: Rect, b: Rect, margin: int = 1) -> bool:
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _holds(mask: np.ndarray, rect: Rect) -> bool:
    """Corners, edge midpoints and centre of ``rect`` all inside ``mask``."""
    x1, y1, x2, y2 = rect[0], rect[1], rect[2] - 1, rect[3] - 1
    xs, ys = (x1, (x1 + x2) // 2, x2), (y1, (y1 + y2) // 2, y2)
    h, w = mask.shape
    return all(0 <= x < w and 0 <= y < h and mask[y, x] for x in xs for y in ys)


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    """The band of ``mask`` within ``width`` pixels of its edge."""
    inner = mask.copy()
    for _ in range(width):
        padded = np.pad(inner, 1)
        inner = inner & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _render(image: Image.Image, marks: Sequence[Mark], placed: Sequence[PlacedMark], masks: dict[int, np.ndarray],
            font: ImageFont.FreeTypeFont, style: MarkStyle) -> Image.Image:
    width, height = image.size
    line = max(2, round(max(width, height) / 320))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    for mark in placed:
        source, colour = marks[mark.index], mark.colour
        if source.shape == "mask":
            alpha = Image.fromarray((masks[mark.index] * round(255 * style.fill_alpha)).astype(np.uint8))
            overlay.paste(Image.new("RGBA", image.size, (*colour, 255)), mask=alpha)
            band = Image.fromarray(_outline(masks[mark.index], line).astype(np.uint8) * 255)
            overlay.paste(Image.new("RGBA", image.size, (*colour, 255)), mask=band)
        elif source.shape == "point":
            x, y = source.point  # type: ignore[misc]
            r = 2 * line
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, 255), outline=(*text_colour(colour), 255))
        else:
            pen.rectangle(tuple(source.box), outline=(*colour, 255), width=line)
            for x, y in source.keypoints:
                pen.ellipse((x - line - 1, y - line - 1, x + line + 1, y + line + 1), fill=(*colour, 255))
    out = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    pen = ImageDraw.Draw(out)
    pad = max(2, round(font.size / 5))
    for mark in placed:
        x1, y1, x2, y2 = mark.label_box
        ink = text_colour(mark.colour)
        pen.rectangle((x1, y1, x2 - 1, y2 - 1), fill=mark.colour, outline=ink)
        left, top, _, _ = font.getbbox(str(mark.number))
        pen.text((x1 + pad - left, y1 + pad - top), str(mark.number), fill=ink, font=font)
    return out
