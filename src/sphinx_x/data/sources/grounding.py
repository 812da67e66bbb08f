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
from typing import Any

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, json_list, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.coco_json import CocoFile, image_file
from sphinx_x.data.sources.dialogue import chunked, tasks_option
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.values import as_list, as_object, convert_safely, is_key, key_of, text

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
        for i, (boxes, description) in enumerate(chunk):
            where = ", ".join(dialogue.box(box) for box in boxes)
            key = f"{spec.name}/{image_key}/{task}/{n}:{i}"
            if task in ("rec", "relation"):
                dialogue.add(prompts.pick(task, key, description=description.rstrip(" .")), where)
            else:
                dialogue.add(prompts.pick("region_caption", key, box=where), description)
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
    refs_file = root / f"refs({spec.options.get('split_by', 'unc')}).p"
    refs = _load_refs(refs_file)
    coco = CocoFile.load(root / "instances.json")
    annotations = {a.get("id"): a for a in coco.annotations if is_key(a.get("id"))}
    splits = set(spec.options.get("splits", ["train"]))
    by_image: dict[object, list[tuple[int, dict]]] = {}
    for n, ref in enumerate(refs):
        if not isinstance(ref, dict) or not is_key(ref.get("image_id")):
            yield RecordError("malformed_item", "a ref must be an object with an image_id", where=f"{refs_file.name}:{n}")
        elif ref.get("split") in splits:
            by_image.setdefault(ref["image_id"], []).append((n, ref))
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
        for n, ref in image_refs:
            ref_id = f"{rid}/ref{key_of(ref.get('ref_id'), n)}"
            referent = convert_safely(_referent, ref, annotations, size, ref_id, rid=ref_id,
                                      where=f"{refs_file.name}:{n}")
            if isinstance(referent, RecordError):
                yield referent
            else:
                referents.append(referent)
        for task in tasks:
            yield from referent_records(spec, prompts, str(image_id), path, referents, task)


def _load_refs(path: Path) -> list[Any]:
    """The refer API's pickled list of refs (a file that is not one is a RecordError naming it)."""
    try:
        with path.open("rb") as f:
            refs = pickle.load(f, encoding="utf-8")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError) as e:
        raise RecordError("malformed_file", f"{path}: not a pickled list of refs ({type(e).__name__})",
                          where=f"{path.name}:0") from None
    return json_list(refs, None, path)


def _referent(ref: dict[str, Any], annotations: dict[Any, dict[str, Any]], size: tuple[float, float],
              rid: str) -> Referent:
    ann_id = ref.get("ann_id")
    annotation = annotations.get(ann_id) if is_key(ann_id) else None
    if annotation is None:
        raise RecordError("unknown_annotation", f"ann_id {short_repr(ann_id)}", rid)
    box = box_from_xywh(annotation.get("bbox"), size, rid)
    sentences = []
    for s in as_list(ref.get("sentences", []), "sentences", rid):
        s = as_object(s, "sentence", rid)
        sentence = s.get("sent") if s.get("sent") is not None else s.get("raw")
        if sentence is not None and not (isinstance(sentence, str) and not sentence.strip(" .")):
            sentences.append(text(sentence, "sentence", rid))
    if not sentences:
        raise RecordError("no_description", "ref has no sentence", rid)
    return Referent([box], sentences)
