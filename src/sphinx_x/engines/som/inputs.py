"""Images with marks, from a COCO-format annotation file (boxes, polygon and RLE masks, keypoints) or from
any registered reader's Records (their labelled regions and, for scene text, their polygons).

Every bad entry is a :class:`~sphinx_x.data.records.RecordError` (counted, never a crash); an image with
one unusable annotation is rejected whole, since counts and lists made from it would be wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import sphinx_x.conf
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import REGION_PATTERN, Record, RecordError, RejectLog
from sphinx_x.data.sources.base import SourceSpec, iter_source
from sphinx_x.data.sources.checked_boxes import box_from_xywh, checked_box
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.engines.som.marks import Mark, SomItem, polygons_to_rle, rle_box, segmentation_to_rle

LABELLED = re.compile(r"<p>(.*?)</p>\s*((?:<region:\d+>\s*,?\s*)+)")
READER_DOMAINS = {"icdar2013": "text", "icdar2015": "text", "totaltext": "text", "ctw1500": "text",
                  "coco_layout": "document", "docbank": "document"}


def coco_items(path: str | Path, image_root: str | Path | None, domain: str, source: str
               ) -> Iterator[SomItem | RecordError]:
    """One item per annotated image of a COCO-format file: a mark per non-crowd annotation (its mask
    when it has a segmentation, its visible keypoints when it has any); crowd labels are uncountable."""
    coco = CocoFile.load(path)
    for entry in coco.annotated_images(source):
        if isinstance(entry, RecordError):
            yield entry
            continue
        image, annotations = entry
        rid = f"{source}/{image['id']}"
        try:
            file = str(Path(image_root) / image_file(image, rid)) if image_root else image_file(image, rid)
            width, height = (int(v) for v in image_size(rid, file=file, declared=image))
            marks, crowd = [], set()
            for annotation in annotations:
                label = coco.category_name(annotation.get("category_id"), rid)
                if annotation.get("iscrowd"):
                    crowd.add(label)
                    continue
                marks.append(_coco_mark(annotation, label, width, height, rid))
        except RecordError as error:
            yield error
            continue
        if marks:
            yield SomItem(rid, file, width, height, domain, source, marks, uncountable=sorted(crowd))


def _coco_mark(annotation: dict[str, Any], label: str, width: int, height: int, rid: str) -> Mark:
    try:
        rle = segmentation_to_rle(annotation.get("segmentation") or [], width, height)
    except (ValueError, TypeError) as e:
        raise RecordError("bad_segmentation", str(e), rid) from None
    if "bbox" in annotation:
        box = box_from_xywh(annotation["bbox"], (width, height), rid)
    elif rle is not None and (mask_box := rle_box(rle)) is not None:
        box = mask_box
    else:
        raise RecordError("missing_field", "bbox or segmentation", rid)
    values = annotation.get("keypoints") or []
    keypoints = [[float(values[i]), float(values[i + 1])] for i in range(0, len(values) - 2, 3) if values[i + 2]]
    return Mark(label, box, rle, keypoints)


def record_items(records: Iterable[Record], domain: str, source: str) -> Iterator[SomItem | RecordError]:
    """One item per image of a reader's single-image Records (an image's records come one after another):
    labelled regions (``<p>label</p> <region:K>``, and a one-region question answered by a short text),
    polygons from ``meta.polygons`` (scene text), a caption from a caption record."""
    group: list[Record] = []
    for record in records:
        if len(record.get("images", [])) != 1:
            continue
        if group and record["images"][0] != group[0]["images"][0]:
            yield _record_item(group, domain, source)
            group = []
        group.append(record)
    if group:
        yield _record_item(group, domain, source)


def _record_item(records: list[Record], domain: str, source: str) -> SomItem | RecordError:
    path = records[0]["images"][0]
    rid = f"{source}/{Path(path).name}"
    declared = records[0].get("meta", {}).get("image_size")
    try:
        width, height = (int(v) for v in (declared or image_size(rid, file=path)))
        marks: dict[tuple[str, tuple[float, ...]], Mark] = {}
        caption = None
        for record in records:
            for label, region, polygon in _labelled_regions(record):
                mark = _record_mark(label, region, polygon, width, height, rid)
                marks.setdefault((mark.label, tuple(mark.box)), mark)
            if caption is None and "caption" in record["task"] and "regions" not in record:
                caption = next((m["content"] for m in record["messages"] if m["role"] == "assistant"), None)
    except RecordError as error:
        return error
    if not marks and caption is None:
        return RecordError("no_regions", "no labelled region in the records of this image", rid)
    return SomItem(rid, path, width, height, domain, source, list(marks.values()), caption)


def _labelled_regions(record: Record) -> Iterator[tuple[str, dict[str, Any], list[float] | None]]:
    regions = record.get("regions", [])
    messages = [m for m in record["messages"] if m["role"] != "system"]
    polygons = list(record.get("meta", {}).get("polygons", []))
    entries = []
    for question, answer in zip(messages[0::2], messages[1::2], strict=False):
        labelled = LABELLED.findall(answer["content"])
        for label, placeholders in labelled:
            entries += [(label.strip(), regions[int(k)]) for k in REGION_PATTERN.findall(placeholders)]
        asked = REGION_PATTERN.findall(question["content"])
        if not labelled and len(asked) == 1 and not REGION_PATTERN.search(answer["content"]):
            text = answer["content"].strip()
            if 0 < len(text) <= 120:
                entries.append((text, regions[int(asked[0])]))
    aligned = len(polygons) == len(entries)
    for k, (label, region) in enumerate(entries):
        yield label, region, polygons[k] if aligned else None


def _record_mark(label: str, region: dict[str, Any], polygon: list[float] | None, width: int, height: int,
                 rid: str) -> Mark:
    if "point" in region:
        x, y = region["point"]
        return Mark(label, checked_box([x - 1, y - 1, x + 1, y + 1], (width, height), rid), point=(x, y))
    box = checked_box(region["box"], (width, height), rid)
    rle = polygons_to_rle([polygon], width, height) if polygon and len(polygon) >= 6 else None
    return Mark(label, box, rle)


def source_items(name: str, data_root: str | Path, domain: str | None = None, max_records: int | None = None,
                 rejects: RejectLog | None = None) -> Iterator[SomItem | RecordError]:
    """Items from the reader of ``sphinx_x/conf/data/source/<name>.yaml`` with ``paths.data_root`` set;
    the domain defaults to the reader's (scene text, documents, else natural images)."""
    config = Path(sphinx_x.conf.__file__).parent / "data" / "source" / f"{name}.yaml"
    if not config.exists():
        raise ValueError(f"--source {name}: no sphinx_x/conf/data/source/{name}.yaml")
    root = OmegaConf.create({"paths": {"data_root": str(data_root)}, "source": OmegaConf.load(config)})
    fields = OmegaConf.to_container(root.source, resolve=True)
    spec = SourceSpec(**fields)  # type: ignore[arg-type]
    if max_records is not None:
        spec.max_samples = max_records
    records = iter_source(spec, PromptPool(fixed=True), rejects or RejectLog())
    yield from record_items(records, domain or READER_DOMAINS.get(spec.reader, "natural"), spec.name)
