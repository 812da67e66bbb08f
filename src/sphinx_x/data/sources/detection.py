"""Object detection from COCO-format instance files: COCO, LVIS, Objects365, V3Det, OpenImages.

Per annotated image, ``options.tasks`` chooses the records (both by default):

- ``detection``: "Detect all objects shown in the image." answered with every object;
- ``detection_category``: one "detect all {category} shown in the image." turn per category present.

Answers group boxes by category: ``<p>cat</p> <region:0>, <region:1>; <p>dog</p> <region:2>``. Boxes
are written in reading order (top to bottom, then left to right) and categories in the order of their
first box. Crowd annotations are left out, boxes are clipped to the image, and an image with a box
that is empty after clipping is rejected whole (its answer would be incomplete).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.dialogue import chunked, named, required, tasks_option
from sphinx_x.data.sources.image_size import image_size

DETECTION_TASKS = ("detection", "detection_category")


@register_reader("coco_detection")
def read_coco_detection(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """COCO-format ``instances_*.json`` (``images``, ``annotations`` with ``bbox`` [x, y, w, h],
    ``category_id``, ``iscrowd``; ``categories`` with ``name``); images under ``image_root``.

    Options: ``tasks`` (subset of ``detection``, ``detection_category``), ``max_turns`` (category turns
    per record).
    """
    tasks = tasks_option(spec, DETECTION_TASKS, DETECTION_TASKS)
    coco = CocoFile.load(spec.path)
    for entry in coco.annotated_images(spec.name):
        if isinstance(entry, RecordError):
            yield entry
            continue
        image, annotations = entry
        key = str(image["id"])
        rid = f"{spec.name}/{key}"
        try:
            groups = _objects_by_category(coco, image, annotations, rid)
            path = spec.resolve_image(image_file(image, rid))
        except RecordError as error:
            yield error
            continue
        if not groups:
            continue  # only crowd annotations: nothing to detect
        if "detection" in tasks:
            dialogue = ImageDialogue(f"{rid}/detection/0")
            answer = "; ".join(named(name, [dialogue.box(b) for b in boxes]) for name, boxes in groups.items())
            dialogue.add(prompts.pick("detection", rid), answer)
            yield dialogue.record(spec.name, "detection", path)
        if "detection_category" in tasks:
            for n, chunk in enumerate(chunked(list(groups.items()), spec.options.get("max_turns"))):
                dialogue = ImageDialogue(f"{rid}/detection_category/{n}")
                for name, boxes in chunk:
                    question = prompts.pick("detection_category", f"{rid}:{name}", category=name)
                    dialogue.add(question, named(name, [dialogue.box(b) for b in boxes]))
                yield dialogue.record(spec.name, "detection_category", path)


def _objects_by_category(coco: CocoFile, image: dict[str, Any], annotations: list[dict[str, Any]],
                         rid: str) -> dict[str, list[Box]]:
    """Non-crowd boxes in reading order, grouped by category name (first-box order)."""
    size = image_size(rid, declared=image)
    objects = []
    for annotation in annotations:
        if annotation.get("iscrowd"):
            continue
        box = box_from_xywh(required(annotation, "bbox", rid), size, rid)
        objects.append((box[1], box[0], coco.category_name(annotation.get("category_id"), rid), box))
    groups: dict[str, list[Box]] = {}
    for _, _, name, box in sorted(objects, key=lambda o: (o[0], o[1])):
        groups.setdefault(name, []).append(box)
    return groups
