"""Scene-text spotting sources: ICDAR 2013, ICDAR 2015, Total-Text, CTW1500 (their published GT).

Each ground-truth file becomes ``<p>transcription</p> <region:K>; ...`` in row order (top to
bottom, then left to right within a row of vertically overlapping words), the box
being the bounds of the quadrilateral / polygon (clipped to the image); the polygons themselves are
kept in ``meta.polygons`` (flat ``[x1, y1, x2, y2, ...]``, aligned with the answer's entries) and
"don't care" regions (``###``, Total-Text ``#``) are left out of the answer and listed in
``meta.ignored``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.ocr_records import ordered_box_records, page_box

Item = tuple[str | None, list[float]]  # (transcription or None for "don't care", flat polygon)
IMAGE_EXTENSIONS = (".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG", ".gif", ".bmp")
_IC13 = re.compile(r'^\s*(-?\d+(?:\.\d+)?)[,\s]+(-?\d+(?:\.\d+)?)[,\s]+(-?\d+(?:\.\d+)?)[,\s]+(-?\d+(?:\.\d+)?)[,\s]*(.*)$')
_TOTALTEXT = re.compile(r"x: \[\[([^\]]*)\]\], y: \[\[([^\]]*)\]\], ornt: \[u?'[^']*'\], "
                        r"transcriptions: \[u?(['\"])(.*?)\3\]", re.DOTALL)


@register_reader("icdar2013")
def read_icdar2013(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``gt_<name>.txt`` lines ``x1 y1 x2 y2 "text"`` (train: spaces; test: commas) for ``<name>.jpg``."""
    yield from _read(spec, prompts, ("*.txt",), parse_icdar2013)


@register_reader("icdar2015")
def read_icdar2015(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``gt_img_N.txt`` lines ``x1,y1,x2,y2,x3,y3,x4,y4,transcription`` (``###`` = don't care)."""
    yield from _read(spec, prompts, ("*.txt",), parse_icdar2015)


@register_reader("totaltext")
def read_totaltext(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``poly_gt_imgN.txt`` entries ``x: [[...]], y: [[...]], ornt: [u'c'], transcriptions: [u'...']``
    (``#`` = don't care) for ``imgN.jpg``."""
    yield from _read(spec, prompts, ("*.txt",), parse_totaltext)


@register_reader("ctw1500")
def read_ctw1500(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """CTW1500 ``NNNN.xml`` (train: ``<box><label>text</label><segs>x,y,...</segs></box>``) or
    ``NNNN.txt`` end-to-end labels (``x1,y1,...,xn,yn,####text``) for ``NNNN.jpg``."""
    yield from _read(spec, prompts, ("*.txt", "*.xml"), parse_ctw1500)


def parse_icdar2013(path: Path) -> list[Item]:
    items: list[Item] = []
    for n, line in enumerate(_lines(path), 1):
        match = _IC13.match(line)
        if not match:
            raise ValueError(f"{path.name}:{n}: expected 'x1 y1 x2 y2 \"text\"'")
        x1, y1, x2, y2 = (float(v) for v in match.groups()[:4])
        text = match.group(5).strip()
        text = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
        items.append((_care(text), [x1, y1, x2, y1, x2, y2, x1, y2]))
    return items


def parse_icdar2015(path: Path) -> list[Item]:
    items: list[Item] = []
    for n, line in enumerate(_lines(path), 1):
        fields = line.split(",", 8)
        if len(fields) < 9:
            raise ValueError(f"{path.name}:{n}: expected 8 coordinates and a transcription")
        items.append((_care(fields[8]), [float(v) for v in fields[:8]]))
    return items


def parse_totaltext(path: Path) -> list[Item]:
    content = path.read_text(encoding="utf-8-sig")
    items: list[Item] = []
    for match in _TOTALTEXT.finditer(content):
        xs, ys = (list(map(float, g.replace(",", " ").split())) for g in match.group(1, 2))
        if len(xs) != len(ys) or len(xs) < 3:
            raise ValueError(f"{path.name}: polygon with {len(xs)} x and {len(ys)} y values")
        text = match.group(4)
        items.append((None if text == "#" else _care(text), [v for xy in zip(xs, ys, strict=True) for v in xy]))
    if content.strip() and not items:
        raise ValueError(f"{path.name}: no 'x: [[...]], y: [[...]], ornt: ..., transcriptions: ...' entries")
    return items


def parse_ctw1500(path: Path) -> list[Item]:
    if path.suffix == ".xml":
        items: list[Item] = []
        for box in ET.parse(path).getroot().iter("box"):
            segs = [float(v) for v in (box.findtext("segs") or "").replace(" ", "").split(",") if v]
            items.append((_care(box.findtext("label") or ""), segs))
        return items
    items = []
    for n, line in enumerate(_lines(path), 1):
        coords, sep, text = line.partition(",####")
        if not sep:
            raise ValueError(f"{path.name}:{n}: no ',####' transcription (detection-only labels are not supported)")
        items.append((_care(text), [float(v) for v in coords.split(",")]))
    return items


def _read(spec: SourceSpec, prompts: PromptPool, patterns: tuple[str, ...],
          parse: Callable[[Path], list[Item]]) -> Iterator[Record | RecordError]:
    root = Path(spec.path)
    files = sorted(p for pattern in patterns for p in root.glob(pattern)) if root.is_dir() else [root]
    for gt in files:
        stem = _image_stem(gt)
        rid = f"{spec.name}/{stem}"
        try:
            items = _parse(parse, gt, rid)
            yield from _records(spec, prompts, rid, _find_image(spec, stem, rid), items)
        except RecordError as e:
            yield e


def _records(spec: SourceSpec, prompts: PromptPool, rid: str, image: str, items: list[Item]) -> list[Record]:
    width, height = image_size(rid, file=image)
    for _, poly in items:
        if len(poly) < 6 or len(poly) % 2:
            raise RecordError("bad_polygon", f"{len(poly)} coordinates", rid)
        if not all(math.isfinite(v) for v in poly):
            raise RecordError("bad_polygon", "a coordinate is not a finite number (NaN or infinity)", rid)
    care = [(text, poly) for text, poly in items if text is not None]
    if not care:
        raise RecordError("no_text", "no legible text region", rid)
    boxes = [page_box(spec, _bounds(poly), (width, height), rid) for _, poly in care]
    meta = {"image_size": [width, height], "ignored": [poly for text, poly in items if text is None]}
    return ordered_box_records(spec, prompts, rid, image, boxes, [text for text, _ in care], "text_spotting", meta,
                               {"polygons": [poly for _, poly in care]}, rows=True)


def _parse(parse: Callable[[Path], list[Item]], path: Path, rid: str) -> list[Item]:
    try:
        return parse(path)
    except (ValueError, ET.ParseError, UnicodeDecodeError) as e:
        raise RecordError("malformed_annotation", str(e), rid) from None


def _image_stem(gt: Path) -> str:
    stem = gt.stem
    for prefix in ("poly_gt_", "gt_"):
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return stem


def _find_image(spec: SourceSpec, stem: str, rid: str) -> str:
    for ext in IMAGE_EXTENSIONS:
        path = spec.resolve_image(stem + ext)
        if Path(path).exists():
            return path
    raise RecordError("missing_image", f"{spec.resolve_image(stem)}.* not found", rid)


def _bounds(poly: list[float]) -> tuple[float, float, float, float]:
    xs, ys = poly[0::2], poly[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _care(text: str) -> str | None:
    text = text.strip()
    return None if not text or text == "###" else text


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
