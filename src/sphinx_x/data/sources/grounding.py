"""Referring expressions, both directions, and the RefCOCO / RefCOCO+ / RefCOCOg reader.

A *referent* is one or more boxes with the descriptions written for them. Per image and task:

- ``rec``: "Please provide the bounding box coordinate of the region this sentence describes: ..."
  answered by the box(es) ``<region:0>`` (several boxes joined by ", ");
- ``region_caption``: "Please provide a short description for this region: <region:0>" answered by
  the description;
- ``relation`` (Visual Genome relationships): "Please provide the bounding box coordinate of the region
  this sentence describes : man riding horse." answered by the subject's box.

Record ``n`` of an image holds the ``k``-th description of every referent that has one (then the
next chunk of ``options.max_turns``), so every description is used once and a dialogue never asks
about the same referent twice.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.dialogue import chunked, tasks_option
from sphinx_x.data.sources.image_size import image_size

GROUNDING_TASKS = ("rec", "region_caption")


@dataclass
class Referent:
    """Pixel boxes ``[x1, y1, x2, y2]`` and the descriptions that refer to them."""

    boxes: list[Box]
    descriptions: list[str]


def referent_records(spec: SourceSpec, prompts: PromptPool, image_key: str, image: str,
                     referents: Sequence[Referent], task: str) -> Iterator[Record]:
    """Records ``<name>/<image_key>/<task>/<n>`` for one image (see the module docstring)."""
    rounds = max((len(r.descriptions) for r in referents), default=0)
    chosen = [[(r.boxes, r.descriptions[k]) for r in referents if len(r.descriptions) > k] for k in range(rounds)]
    chunks = [chunk for turns in chosen for chunk in chunked(turns, spec.options.get("max_turns"))]
    for n, chunk in enumerate(chunks):
        dialogue = ImageDialogue(f"{spec.name}/{image_key}/{task}/{n}")
        for i, (boxes, text) in enumerate(chunk):
            where = ", ".join(dialogue.box(box) for box in boxes)
            key = f"{spec.name}/{image_key}/{task}/{n}:{i}"
            if task in ("rec", "relation"):
                dialogue.add(prompts.pick(task, key, description=text.rstrip(" .")), where)
            else:
                dialogue.add(prompts.pick("region_caption", key, box=where), text)
        yield dialogue.record(spec.name, task, image)


@register_reader("refcoco")
def read_refcoco(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """RefCOCO, RefCOCO+ and RefCOCOg as released for the ``refer`` API: ``path`` is the dataset folder
    holding ``refs(<split_by>).p`` (a pickled list of refs: ``ref_id``, ``ann_id``, ``image_id``,
    ``split``, ``sentences`` [{``sent``, ``raw``}]) and ``instances.json`` (COCO-format images with
    ``file_name``/``width``/``height`` and annotations with ``bbox``). Images (COCO train2014) under
    ``image_root``.

    Options: ``split_by`` (``unc`` for RefCOCO/RefCOCO+, ``umd`` or ``google`` for RefCOCOg), ``splits``
    (default ``[train]``), ``tasks``, ``max_turns``.
    """
    tasks = tasks_option(spec, GROUNDING_TASKS, GROUNDING_TASKS)
    root = Path(spec.path)
    with (root / f"refs({spec.options.get('split_by', 'unc')}).p").open("rb") as f:
        refs = pickle.load(f, encoding="utf-8")
    coco = CocoFile.load(root / "instances.json")
    annotations = {a.get("id"): a for a in coco.annotations}
    splits = set(spec.options.get("splits", ["train"]))
    by_image: dict[object, list[dict]] = {}
    for ref in refs:
        if ref.get("split") in splits:
            by_image.setdefault(ref.get("image_id"), []).append(ref)
    for image_id, image_refs in by_image.items():
        rid = f"{spec.name}/{image_id}"
        image = coco.images.get(image_id)
        try:
            if image is None:
                raise RecordError("unknown_image", f"refs refer to image {image_id!r}", rid)
            size, path = image_size(rid, declared=image), spec.resolve_image(image_file(image, rid))
        except RecordError as error:
            yield error
            continue
        referents = []
        for ref in image_refs:
            ref_id = f"{rid}/ref{ref.get('ref_id')}"
            try:
                annotation = annotations.get(ref.get("ann_id"))
                if annotation is None:
                    raise RecordError("unknown_annotation", f"ann_id {ref.get('ann_id')!r}", ref_id)
                box = box_from_xywh(annotation.get("bbox"), size, ref_id)
                sentences = [str(s.get("sent", s.get("raw")) or "").strip() for s in ref.get("sentences", [])]
                sentences = [s for s in sentences if s.strip(" .")]
                if not sentences:
                    raise RecordError("no_description", "ref has no sentence", ref_id)
            except RecordError as error:
                yield error
                continue
            referents.append(Referent([box], sentences))
        for task in tasks:
            yield from referent_records(spec, prompts, str(image_id), path, referents, task)
