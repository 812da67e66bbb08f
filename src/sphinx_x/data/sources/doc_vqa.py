"""Question answering on documents and charts from their own releases: DocVQA, InfographicsVQA,
ChartQA, DVQA, VisualMRC. Questions are grouped per image like :mod:`sphinx_x.data.sources.vqa`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, json_list, load_json, read_items, register_reader
from sphinx_x.data.sources.dialogue import answer_of, ask, required_text
from sphinx_x.data.sources.values import as_list, as_object, is_number, key_of, text
from sphinx_x.data.sources.vqa import Question, grouped_questions


def _first_answer(item: dict[str, Any], rid: str) -> str:
    answers = [str(a) if is_number(a) else a for a in as_list(item.get("answers"), "answers", rid)]
    answers = [a for a in answers if isinstance(a, str) and a.strip()]
    if not answers:
        raise RecordError("empty_answer", "no non-empty answer", rid)
    return text(answers[0], "answers[0]", rid)


@register_reader("docvqa")
def read_docvqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DocVQA ``train_v1.0.json`` (``data`` [{``questionId``, ``question``, ``image``:
    ``documents/<doc>.png``, ``answers``}]) and InfographicsVQA ``infographicVQA_train_v1.0.json``
    (the same with ``image_local_name``). The answer is the first of ``answers``; images under
    ``image_root``."""

    def convert(q: dict[str, Any], n: int) -> Question:
        image = q.get("image") or q.get("image_local_name")
        rid = f"{spec.name}/{key_of(image, None)}/q{key_of(q.get('questionId'), n)}"
        image = text(image, "image / image_local_name", rid, reason="bad_image_path")
        question = ask(required_text(q, "question", rid), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(image), question, _first_answer(q, rid)

    yield from grouped_questions(spec, json_list(load_json(spec.path), "data", spec.path), convert)


@register_reader("chartqa")
def read_chartqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """ChartQA split folder (``ChartQA Dataset/train``): ``options.files`` (default ``train_human.json``
    and ``train_augmented.json``: [{``imgname``, ``query``, ``label``}]) and the charts in ``png/``
    (``image_root`` overrides)."""
    root = Path(spec.path)
    image_root = Path(spec.image_root) if spec.image_root else root / "png"
    files = list(spec.options.get("files", ["train_human.json", "train_augmented.json"]))
    items = ({"file": Path(name).name, "n": n, "item": q} for name in files
             for n, q in enumerate(json_list(load_json(root / name), None, root / name)))

    def convert(entry: dict[str, Any], _: int) -> Question:
        q, where = entry["item"], f"{entry['file']}:{entry['n']}"
        rid = f"{spec.name}/{key_of(q.get('imgname'), None) if isinstance(q, dict) else None}/{Path(where).stem}:{entry['n']}"
        try:
            image = required_text(q, "imgname", rid)
            question = ask(required_text(q, "query", rid), prompts.pick(spec.task, rid))
            return image, str(image_root / image), question, answer_of(q, "label", rid)
        except RecordError as error:
            error.where = where  # its own file and index
            raise

    yield from grouped_questions(spec, items, convert)


@register_reader("dvqa")
def read_dvqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DVQA ``qa/train_qa.json``: [{``image``, ``question``, ``answer``, ``question_id``}]; bar charts
    under ``image_root`` (``images``)."""

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{key_of(q.get('image'), None)}/q{key_of(q.get('question_id'), n)}"
        image = required_text(q, "image", rid)
        question = ask(required_text(q, "question", rid), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(image), question, answer_of(q, "answer", rid)

    yield from grouped_questions(spec, json_list(load_json(spec.path), None, spec.path), convert)


@register_reader("visualmrc")
def read_visualmrc(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """VisualMRC JSON list or JSONL: [{``id``, ``image_filename``, ``qa_data`` [{``question``:
    {``text``}, ``answer``: {``text``}}], ``bounding_boxes``}]; screenshots under ``image_root``.
    Answers are abstractive sentences (``task: sentence_qa``)."""

    def items() -> Iterator[Any]:
        for where, page in read_items(spec.path):
            if not isinstance(page, dict):
                yield page if isinstance(page, RecordError) else \
                    RecordError("malformed_item", "expected an object", where=where)
                continue
            qa_data = page.get("qa_data")
            for k, qa in enumerate(qa_data if isinstance(qa_data, list) and qa_data else [qa_data]):
                yield {"image": page.get("image_filename"), "k": k, "qa": qa, "where": where}

    def convert(entry: dict[str, Any], _: int) -> Question:
        image, qa = entry["image"], entry["qa"]
        rid = f"{spec.name}/{key_of(image, None)}/qa{entry['k']}"
        try:
            image = text(image, "image_filename", rid, reason="bad_image_path")
            qa = as_object(qa, "qa_data", rid)
            question = ask(required_text(qa.get("question"), "text", rid), prompts.pick(spec.task, rid))
            answer = answer_of(qa.get("answer"), "text", rid)
        except RecordError as error:
            error.where = entry["where"]  # the page's line, not the question's position
            raise
        return image, spec.resolve_image(image), question, answer

    yield from grouped_questions(spec, items(), convert)
