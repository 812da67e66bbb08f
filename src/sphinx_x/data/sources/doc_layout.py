"""Document layout sources: COCO-format layout sets (PubLayNet, DocLayNet, M6Doc) and DocBank.

Answers are ``<p>category</p> <region:K>; ...`` in reading order (XY-cut), boxes in original
pixels; a page with more than ``options.max_regions`` boxes / ``options.max_chars`` answer
characters becomes several records about exclusive regions (see docs/ocr.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.boxes import Box, union_box
from sphinx_x.data.ocr.labelled_boxes import labelled_box_records
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, read_text_lines, register_reader
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.ocr_records import box_limits, ordered_box_records, page_box
from sphinx_x.data.sources.values import is_key, number

DOCBANK_SPECIAL = ("##LTFigure##", "##LTLine##")


# ----------------------------------------------------------------------------------------- COCO
@register_reader("coco_layout")
def read_coco_layout(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """COCO json (``images``, ``annotations`` with ``bbox`` = [x, y, w, h], ``categories``)."""
    coco = CocoFile.load(spec.path)
    names = {}
    for key, category in coco.categories.items():
        if isinstance(category.get("name"), str) and category["name"].strip():
            names[key] = category_name(category["name"], spec.options)
    yield from coco.errors
    for image_id, image in coco.images.items():
        rid = f"{spec.name}/{image_id}"
        try:
            yield from _coco_image(spec, prompts, rid, image, coco.by_image.get(image_id, []), names)
        except RecordError as e:
            yield e


def _coco_image(spec: SourceSpec, prompts: PromptPool, rid: str, image: dict, anns: list[dict],
                names: dict[Any, str]) -> list[Record]:
    if not anns:
        raise RecordError("no_annotations", str(image.get("file_name", ""))[:200], rid)
    path = spec.resolve_image(image_file(image, rid))
    width, height = image_size(rid, file=path, declared=image)
    boxes, labels = [], []
    for ann in anns:
        category = ann.get("category_id")
        if not is_key(category) or category not in names:
            raise RecordError("unknown_category", short_repr(category), rid)
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise RecordError("bad_box", f"expected [x, y, w, h], got {short_repr(bbox)}", rid)
        x, y, w, h = (number(c, "bbox", rid, reason="bad_box") for c in bbox)
        boxes.append(page_box(spec, (x, y, x + w, y + h), (width, height), rid))
        labels.append(names[category])
    return ordered_box_records(spec, prompts, rid, path, boxes, labels, "layout_blocks", {"image_size": [width, height]})


def category_name(name: str, options: dict[str, Any] | None) -> str:
    """``options.category_names[name]`` if given, else lower case with ``-``/``_`` as spaces
    ("Page-header" -> "page header")."""
    mapping = (options or {}).get("category_names") or {}
    return str(mapping.get(name, name.replace("-", " ").replace("_", " ").lower())).strip()


# -------------------------------------------------------------------------------------- DocBank
@register_reader("docbank")
def read_docbank(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DocBank ``<name>.txt`` token files (token x0 y0 x1 y1 R G B font label, coordinates
    0..1000) with images ``<image_root>/<name><options.image_suffix>`` (default ``_ori.jpg``).

    ``task: spotting`` -> text lines (consecutive same-label tokens on one baseline) with boxes;
    ``task: layout`` -> blocks (consecutive lines of one label stacked in one column, and figures).
    """
    root = Path(spec.path)
    files = sorted(root.rglob("*.txt")) if root.is_dir() else [root]
    suffix = spec.options.get("image_suffix", "_ori.jpg")
    for txt in files:
        rid = f"{spec.name}/{txt.stem}"
        try:
            path = spec.resolve_image(txt.stem + suffix)
            width, height = image_size(rid, file=path)
            tokens = _docbank_tokens(spec, txt, width, height, rid)
            if not tokens:
                raise RecordError("no_annotations", txt.name, rid)
            lines = _docbank_lines([t for t in tokens if t[0] not in DOCBANK_SPECIAL])
            meta = {"image_size": [width, height]}
            if spec.task == "layout":
                blocks = _docbank_blocks(lines) + [(b, lab) for tok, b, lab in tokens if tok == "##LTFigure##"]
                yield from ordered_box_records(spec, prompts, rid, path, [b for b, _ in blocks],
                                               [lab for _, lab in blocks], "layout_blocks", meta)
            else:
                if not lines:
                    raise RecordError("no_text", txt.name, rid)
                yield from labelled_box_records(rid, spec.name, spec.task, path, [ln[1] for ln in lines],
                                                [" ".join(ln[0]) for ln in lines], "text_spotting", prompts,
                                                *box_limits(spec), meta, {"labels": [ln[2] for ln in lines]})
        except RecordError as e:
            yield e


Token = tuple[str, Box, str]  # (text, pixel box, label)


def _docbank_tokens(spec: SourceSpec, txt: Path, width: int, height: int, rid: str) -> list[Token]:
    tokens = []
    for n, line in enumerate(read_text_lines(txt, rid), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 10:
            raise RecordError("malformed_line", f"{txt.name}:{n}: {len(fields)} fields, expected 10", rid)
        x0, y0, x1, y1 = (number(v, f"{txt.name}:{n}", rid, reason="malformed_line") for v in fields[1:5])
        if not fields[0].strip():
            continue
        box = (x0 * width / 1000, y0 * height / 1000, x1 * width / 1000, y1 * height / 1000)
        tokens.append((fields[0], page_box(spec, box, (width, height), rid), fields[-1].strip()))
    return tokens


def _docbank_lines(tokens: list[Token]) -> list[tuple[list[str], Box, str]]:
    lines: list[tuple[list[str], Box, str]] = []
    for text, box, label in tokens:
        if lines:
            words, prev, prev_label = lines[-1]
            h = min(prev[3] - prev[1], box[3] - box[1])
            overlap = min(prev[3], box[3]) - max(prev[1], box[1])
            gap = box[0] - prev[2]
            if label == prev_label and h > 0 and overlap >= 0.5 * h and -0.5 * h <= gap <= 1.5 * h:
                lines[-1] = (words + [text], union_box([prev, box]), label)
                continue
        lines.append(([text], box, label))
    return lines


def _docbank_blocks(lines: list[tuple[list[str], Box, str]]) -> list[tuple[Box, str]]:
    blocks: list[tuple[Box, str]] = []
    for _, box, label in lines:
        if blocks:
            prev, prev_label = blocks[-1]
            h = box[3] - box[1]
            stacked = prev[1] <= box[1] <= prev[3] + 1.5 * h and min(prev[2], box[2]) > max(prev[0], box[0])
            if label == prev_label and stacked:
                blocks[-1] = (union_box([prev, box]), label)
                continue
        blocks.append((box, label))
    return blocks
