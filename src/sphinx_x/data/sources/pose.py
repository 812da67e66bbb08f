"""Human pose from COCO keypoint files (``person_keypoints_train2017.json``).

As in SPHINX, an image's first dialogue starts by finding the people ("Detect all people shown in the
image." answered ``<p>person</p> <region:0>, <region:1>, ...``; ``options.detect_people_first: false``
leaves it out). Then one turn per annotated person: "Detect the key points of the person in the region <region:K>." with
the person's box, answered by the named key points as point regions in the category's keypoint order:
``<p>nose</p> <region:1>; <p>left eye</p> <region:2>; ...``. A keypoint is kept when its visibility flag
``v`` is at least ``options.min_visibility`` (1: labelled, occluded or not; 2: visible only); ``v = 0``
(not labelled) is always left out. Persons with fewer than ``options.min_keypoints`` kept points and
crowd annotations are skipped (they are unannotated, not bad).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.dialogue import chunked, required
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.values import as_list, is_key, key_of, number


@register_reader("coco_keypoints")
def read_coco_keypoints(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """COCO-format keypoint file: ``annotations`` with ``keypoints`` [x, y, v] * K and ``bbox``;
    ``categories`` with the ``keypoints`` names. Images under ``image_root``.

    Options: ``min_visibility`` (default 1), ``min_keypoints`` (default 1), ``max_turns``,
    ``detect_people_first`` (default true).
    """
    people_first = bool(spec.options.get("detect_people_first", True))
    min_visibility = int(spec.options.get("min_visibility", 1))
    min_keypoints = int(spec.options.get("min_keypoints", 1))
    coco = CocoFile.load(spec.path)
    for entry in coco.annotated_images(spec.name):
        if isinstance(entry, RecordError):
            yield entry
            continue
        image, annotations = entry
        rid = f"{spec.name}/{image['id']}"
        try:  # any value that is not what the layout says is a RecordError for the whole image
            size = image_size(rid, declared=image)
            path = spec.resolve_image(image_file(image, rid))
            persons = []
            for annotation in annotations:
                if annotation.get("iscrowd"):
                    continue
                points = _keypoints(coco, annotation, min_visibility, rid)
                if len(points) >= min_keypoints:
                    box = box_from_xywh(required(annotation, "bbox", rid), size, rid)
                    persons.append((key_of(annotation.get("id"), len(persons)), box, points))
        except RecordError as error:
            yield error
            continue
        for n, chunk in enumerate(chunked(persons, spec.options.get("max_turns"))):
            dialogue = ImageDialogue(f"{rid}/{spec.task}/{n}")
            if people_first and n == 0:
                everyone = ", ".join(dialogue.box(box) for _, box, _ in persons)
                dialogue.add(prompts.pick("person_detection", rid), f"<p>person</p> {everyone}")
            for person_id, box, points in chunk:
                question = prompts.pick(spec.task, f"{rid}:{person_id}", box=dialogue.box(box))
                dialogue.add(question, "; ".join(f"<p>{name}</p> {dialogue.point(xy)}" for name, xy in points))
            yield dialogue.record(spec.name, spec.task, path)


def _keypoints(coco: CocoFile, annotation: dict[str, Any], min_visibility: int, rid: str
               ) -> list[tuple[str, list[float]]]:
    """(name, [x, y]) of the keypoints whose visibility is at least ``min_visibility`` (and > 0)."""
    flat = annotation.get("keypoints") or []
    category_id = annotation.get("category_id")
    category = coco.categories.get(category_id, {}) if is_key(category_id) else {}
    names = category.get("keypoints")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise RecordError("unknown_category", f"category {short_repr(category_id)} names no keypoints", rid)
    names = [n.replace("_", " ") for n in names]
    flat = as_list(flat, "keypoints", rid)
    if flat and len(flat) != 3 * len(names):
        raise RecordError("bad_keypoints", f"{len(flat)} numbers for {len(names)} keypoints", rid)
    points = []
    for k, name in enumerate(names if flat else []):
        x, y, v = (number(c, f"keypoints[{3 * k + i}]", rid, reason="bad_keypoints")
                   for i, c in enumerate(flat[3 * k: 3 * k + 3]))
        if v > 0 and v >= min_visibility:
            points.append((name, [x, y]))
    return points
