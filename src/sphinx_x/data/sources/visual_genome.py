"""Visual Genome: region descriptions (grounding, both directions), relationships (relation grounding)
and question answers (VQA).

Both read ``image_data.json`` (``options.image_data``: [{``image_id`` (v1.2) or ``id`` (v1.0), ``url``,
``width``, ``height``}]) for the image sizes and paths: the image is ``VG_100K/1.jpg`` or
``VG_100K_2/1.jpg`` (the last two parts of ``url``) under ``image_root``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.dialogue import answer_of, ask, qa_records, required, tasks_option
from sphinx_x.data.sources.grounding import GROUNDING_TASKS, Referent, referent_records
from sphinx_x.data.sources.image_size import image_size


def load_image_data(spec: SourceSpec) -> dict[Any, dict[str, Any]]:
    """{image id: image_data entry} from ``options.image_data``."""
    if not spec.options.get("image_data"):
        raise ValueError(f"data.sources.{spec.name}.options.image_data: path to image_data.json is required")
    with Path(spec.options["image_data"]).open() as f:
        return {entry.get("image_id", entry.get("id")): entry for entry in json.load(f)}


def _image(images: dict[Any, dict[str, Any]], image_id: Any, spec: SourceSpec, rid: str
           ) -> tuple[dict[str, Any], str]:
    entry = images.get(image_id)
    if entry is None:
        raise RecordError("unknown_image", f"image {image_id!r} is not in image_data.json", rid)
    url = str(required(entry, "url", rid))
    return entry, spec.resolve_image("/".join(url.rstrip("/").split("/")[-2:]))


@register_reader("vg_regions")
def read_vg_regions(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``region_descriptions.json``: [{``id``: image id, ``regions``: [{``region_id``, ``x``, ``y``,
    ``width``, ``height``, ``phrase``}]}] -> ``rec`` / ``region_caption`` dialogues (``options.tasks``),
    ``options.max_turns`` regions per record."""
    tasks = tasks_option(spec, GROUNDING_TASKS, GROUNDING_TASKS)
    images = load_image_data(spec)
    with Path(spec.path).open() as f:
        entries = json.load(f)
    for entry in entries:
        image_id = entry.get("id", entry.get("image_id"))
        rid = f"{spec.name}/{image_id}"
        try:
            image, path = _image(images, image_id, spec, rid)
            size = image_size(rid, declared=image)
        except RecordError as error:
            yield error
            continue
        referents = []
        for region in entry.get("regions", []):
            region_rid = f"{rid}/region{region.get('region_id')}"
            try:
                phrase = str(required(region, "phrase", region_rid)).strip()
                xywh = [region.get(k) for k in ("x", "y", "width", "height")]
                referents.append(Referent([box_from_xywh(xywh, size, region_rid)], [phrase]))
            except RecordError as error:
                yield error
        for task in tasks:
            yield from referent_records(spec, prompts, str(image_id), path, referents, task)


@register_reader("vg_relations")
def read_vg_relations(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``relationships.json``: [{``image_id``, ``relationships``: [{``relationship_id``, ``predicate``,
    ``subject`` / ``object``: {``name`` or ``names``, ``x``, ``y``, ``w``, ``h``}}]}] -> ``relation``
    dialogues: "subject predicate object" grounded to the subject's box, ``options.max_turns`` per record.
    """
    images = load_image_data(spec)
    with Path(spec.path).open() as f:
        entries = json.load(f)
    for entry in entries:
        image_id = entry.get("image_id", entry.get("id"))
        rid = f"{spec.name}/{image_id}"
        try:
            image, path = _image(images, image_id, spec, rid)
            size = image_size(rid, declared=image)
        except RecordError as error:
            yield error
            continue
        referents, seen = [], set()
        for relation in entry.get("relationships", []):
            relation_rid = f"{rid}/relation{relation.get('relationship_id')}"
            try:
                subject, obj = required(relation, "subject", relation_rid), required(relation, "object", relation_rid)
                sentence = " ".join([_name(subject, relation_rid), str(required(relation, "predicate", relation_rid))
                                     .strip().lower(), _name(obj, relation_rid)])
                box = box_from_xywh([subject.get(k) for k in ("x", "y", "w", "h")], size, relation_rid)
            except RecordError as error:
                yield error
                continue
            if sentence not in seen:  # VG repeats relationships; one question each
                seen.add(sentence)
                referents.append(Referent([box], [sentence]))
        yield from referent_records(spec, prompts, str(image_id), path, referents, "relation")


def _name(node: dict[str, Any], rid: str) -> str:
    """An object's name: ``name`` (v1.0) or the first of ``names`` (v1.2)."""
    names = node.get("names") or [node.get("name")]
    if not names or not isinstance(names[0], str) or not names[0].strip():
        raise RecordError("missing_field", "subject/object name", rid)
    return names[0].strip().lower()


@register_reader("vg_qa")
def read_vg_qa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``question_answers.json``: [{``id``: image id, ``qas``: [{``qa_id``, ``question``, ``answer``}]}];
    the answers' final period is dropped ("Green." -> "Green") to match short-answer prompts."""
    images = load_image_data(spec)
    with Path(spec.path).open() as f:
        entries = json.load(f)
    for entry in entries:
        image_id = entry.get("id", entry.get("image_id"))
        rid = f"{spec.name}/{image_id}"
        try:
            _, path = _image(images, image_id, spec, rid)
        except RecordError as error:
            yield error
            continue
        turns = []
        for qa in entry.get("qas", []):
            qa_rid = f"{rid}/qa{qa.get('qa_id')}"
            try:
                question = str(required(qa, "question", qa_rid))
                answer = answer_of(qa, "answer", qa_rid).rstrip(".").strip()
                if not answer:
                    raise RecordError("empty_answer", "answer is only a period", qa_rid)
            except RecordError as error:
                yield error
                continue
            turns.append((ask(question, prompts.pick(spec.task, qa_rid)), answer))
        yield from qa_records(spec, str(image_id), path, turns)
