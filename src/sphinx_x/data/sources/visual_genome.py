"""Visual Genome: region descriptions (grounding, both directions), relationships (relation grounding)
and question answers (VQA).

Both read ``image_data.json`` (``options.image_data``: [{``image_id`` (v1.2) or ``id`` (v1.0), ``url``,
``width``, ``height``}]) for the image sizes and paths: the image is ``VG_100K/1.jpg`` or
``VG_100K_2/1.jpg`` (the last two parts of ``url``) under ``image_root``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, json_list, load_json, register_reader
from sphinx_x.data.sources.checked_boxes import box_from_xywh
from sphinx_x.data.sources.dialogue import answer_of, ask, qa_records, required, required_text, tasks_option
from sphinx_x.data.sources.grounding import GROUNDING_TASKS, Referent, referent_records
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.values import SourceOptionError, as_list, as_object, is_key, key_of


def load_image_data(spec: SourceSpec) -> dict[Any, dict[str, Any]]:
    """{image id: image_data entry} from ``options.image_data`` (entries without a usable id are left out:
    the images that need them are ``unknown_image`` rejects)."""
    if not spec.options.get("image_data"):
        raise SourceOptionError(f"data.sources.{spec.name}.options.image_data: path to image_data.json is required")
    path = spec.options["image_data"]
    entries = (e for e in json_list(load_json(path), None, path) if isinstance(e, dict))
    return {_id(e, "image_id", "id"): e for e in entries if is_key(_id(e, "image_id", "id"))}


def _id(entry: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` that ``entry`` has (VG v1.0 says ``id``, v1.2 ``image_id``)."""
    return next((entry[k] for k in keys if k in entry), None)


def _entries(spec: SourceSpec) -> Iterator[tuple[str, Any]]:
    """(``<file>:<index>``, entry) of the annotation file's list."""
    name = Path(spec.path).name
    for n, entry in enumerate(json_list(load_json(spec.path), None, spec.path)):
        yield f"{name}:{n}", entry


def _image(images: dict[Any, dict[str, Any]], image_id: Any, spec: SourceSpec, rid: str
           ) -> tuple[dict[str, Any], str]:
    entry = images.get(image_id) if is_key(image_id) else None
    if entry is None:
        raise RecordError("unknown_image", f"image {short_repr(image_id)} is not in image_data.json", rid)
    url = required_text(entry, "url", rid)
    return entry, spec.resolve_image("/".join(url.rstrip("/").split("/")[-2:]))


def _entry(entry: Any, where: str, spec: SourceSpec, images: dict[Any, dict[str, Any]], items: str, *keys: str
           ) -> tuple[str, Any, dict[str, Any], str, list[Any]]:
    """(record id, image id, image_data entry, image path, the entry's ``items`` list) of one entry."""
    if not isinstance(entry, dict):
        raise RecordError("malformed_item", f"expected an object, got {short_repr(entry)}", where=where)
    image_id = _id(entry, *keys)
    rid = f"{spec.name}/{key_of(image_id, None)}"
    image, path = _image(images, image_id, spec, rid)
    return rid, image_id, image, path, as_list(entry.get(items, []), items, rid)


@register_reader("vg_regions")
def read_vg_regions(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``region_descriptions.json``: [{``id``: image id, ``regions``: [{``region_id``, ``x``, ``y``,
    ``width``, ``height``, ``phrase``}]}] -> ``rec`` / ``region_caption`` dialogues (``options.tasks``),
    ``options.max_turns`` regions per record."""
    tasks = tasks_option(spec, GROUNDING_TASKS, GROUNDING_TASKS)
    images = load_image_data(spec)
    for where, entry in _entries(spec):
        try:
            rid, image_id, image, path, regions = _entry(entry, where, spec, images, "regions", "id", "image_id")
            size = image_size(rid, declared=image)
        except RecordError as error:
            error.where = where
            yield error
            continue
        referents = []
        for k, region in enumerate(regions):
            region_rid = f"{rid}/region{key_of(region.get('region_id'), k) if isinstance(region, dict) else k}"
            try:
                phrase = required_text(region, "phrase", region_rid)
                xywh = [region.get(key) for key in ("x", "y", "width", "height")]
                referents.append(Referent([box_from_xywh(xywh, size, region_rid)], [phrase]))
            except RecordError as error:
                error.where = where
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
    for where, entry in _entries(spec):
        try:
            rid, image_id, image, path, relations = _entry(entry, where, spec, images, "relationships",
                                                           "image_id", "id")
            size = image_size(rid, declared=image)
        except RecordError as error:
            error.where = where
            yield error
            continue
        referents, seen = [], set()
        for k, relation in enumerate(relations):
            relation_rid = f"{rid}/relation{key_of(relation.get('relationship_id'), k) if isinstance(relation, dict) else k}"
            try:
                subject = as_object(required(relation, "subject", relation_rid), "subject", relation_rid)
                obj = as_object(required(relation, "object", relation_rid), "object", relation_rid)
                predicate = required_text(relation, "predicate", relation_rid).lower()
                sentence = " ".join([_name(subject, relation_rid), predicate, _name(obj, relation_rid)])
                box = box_from_xywh([subject.get(key) for key in ("x", "y", "w", "h")], size, relation_rid)
            except RecordError as error:
                error.where = where
                yield error
                continue
            if sentence not in seen:  # VG repeats relationships; one question each
                seen.add(sentence)
                referents.append(Referent([box], [sentence]))
        yield from referent_records(spec, prompts, str(image_id), path, referents, "relation")


def _name(node: dict[str, Any], rid: str) -> str:
    """An object's name: ``name`` (v1.0) or the first of ``names`` (v1.2)."""
    names = node.get("names") or [node.get("name")]
    if not isinstance(names, list) or not names or not isinstance(names[0], str) or not names[0].strip():
        raise RecordError("missing_field", "subject/object name", rid)
    return names[0].strip().lower()


@register_reader("vg_qa")
def read_vg_qa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """``question_answers.json``: [{``id``: image id, ``qas``: [{``qa_id``, ``question``, ``answer``}]}];
    the answers' final period is dropped ("Green." -> "Green") to match short-answer prompts."""
    images = load_image_data(spec)
    for where, entry in _entries(spec):
        try:
            rid, image_id, _, path, qas = _entry(entry, where, spec, images, "qas", "id", "image_id")
        except RecordError as error:
            error.where = where
            yield error
            continue
        turns = []
        for k, qa in enumerate(qas):
            qa_rid = f"{rid}/qa{key_of(qa.get('qa_id'), k) if isinstance(qa, dict) else k}"
            try:
                question = required_text(qa, "question", qa_rid)
                answer = answer_of(qa, "answer", qa_rid).rstrip(".").strip()
                if not answer:
                    raise RecordError("empty_answer", "answer is only a period", qa_rid)
            except RecordError as error:
                error.where = where
                yield error
                continue
            turns.append((ask(question, prompts.pick(spec.task, qa_rid)), answer))
        yield from qa_records(spec, str(image_id), path, turns)
