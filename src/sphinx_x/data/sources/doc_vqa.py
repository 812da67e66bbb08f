"""Question answering on documents and charts from their own releases: DocVQA, InfographicsVQA,
ChartQA, DVQA, VisualMRC. Questions are grouped per image like :mod:`sphinx_x.data.sources.vqa`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, read_json_or_jsonl, register_reader
from sphinx_x.data.sources.dialogue import answer_of, ask, required
from sphinx_x.data.sources.vqa import Question, grouped_questions, load_json


def _first_answer(item: dict[str, Any], rid: str) -> str:
    answers = [a.strip() for a in item.get("answers") or [] if isinstance(a, str) and a.strip()]
    if not answers:
        raise RecordError("empty_answer", "no non-empty answer", rid)
    return answers[0]


@register_reader("docvqa")
def read_docvqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DocVQA ``train_v1.0.json`` (``data`` [{``questionId``, ``question``, ``image``:
    ``documents/<doc>.png``, ``answers``}]) and InfographicsVQA ``infographicVQA_train_v1.0.json``
    (the same with ``image_local_name``). The answer is the first of ``answers``; images under
    ``image_root``."""

    def convert(q: dict[str, Any], n: int) -> Question:
        image = q.get("image") or q.get("image_local_name")
        rid = f"{spec.name}/{image}/q{q.get('questionId', n)}"
        if not image:
            raise RecordError("missing_field", "image / image_local_name", rid)
        question = ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid))
        return str(image), spec.resolve_image(str(image)), question, _first_answer(q, rid)

    yield from grouped_questions(spec, load_json(spec.path).get("data", []), convert)


@register_reader("chartqa")
def read_chartqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """ChartQA split folder (``ChartQA Dataset/train``): ``options.files`` (default ``train_human.json``
    and ``train_augmented.json``: [{``imgname``, ``query``, ``label``}]) and the charts in ``png/``
    (``image_root`` overrides)."""
    root = Path(spec.path)
    image_root = Path(spec.image_root) if spec.image_root else root / "png"
    files = list(spec.options.get("files", ["train_human.json", "train_augmented.json"]))
    items = ({"file": Path(name).stem, "n": n, "item": q} for name in files for n, q in enumerate(load_json(root / name)))

    def convert(entry: dict[str, Any], _: int) -> Question:
        q = entry["item"]
        rid = f"{spec.name}/{q.get('imgname') if isinstance(q, dict) else None}/{entry['file']}:{entry['n']}"
        image = str(required(q, "imgname", rid))
        question = ask(str(required(q, "query", rid)), prompts.pick(spec.task, rid))
        return image, str(image_root / image), question, answer_of(q, "label", rid)

    yield from grouped_questions(spec, items, convert)


@register_reader("dvqa")
def read_dvqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DVQA ``qa/train_qa.json``: [{``image``, ``question``, ``answer``, ``question_id``}]; bar charts
    under ``image_root`` (``images``)."""

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{q.get('image')}/q{q.get('question_id', n)}"
        image = str(required(q, "image", rid))
        question = ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(image), question, answer_of(q, "answer", rid)

    yield from grouped_questions(spec, load_json(spec.path), convert)


@register_reader("visualmrc")
def read_visualmrc(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """VisualMRC JSON list or JSONL: [{``id``, ``image_filename``, ``qa_data`` [{``question``:
    {``text``}, ``answer``: {``text``}}], ``bounding_boxes``}]; screenshots under ``image_root``.
    Answers are abstractive sentences (``task: sentence_qa``)."""

    def items() -> Iterator[Any]:
        for page in read_json_or_jsonl(spec.path):
            if not isinstance(page, dict):
                yield page
                continue
            for k, qa in enumerate(page.get("qa_data") or [None]):
                yield {"image": page.get("image_filename"), "k": k, "qa": qa}

    def convert(entry: dict[str, Any], _: int) -> Question:
        image, qa = entry["image"], entry["qa"]
        rid = f"{spec.name}/{image}/qa{entry['k']}"
        if not image:
            raise RecordError("missing_field", "image_filename", rid)
        if not isinstance(qa, dict):
            raise RecordError("missing_field", "qa_data", rid)
        question = ask(str(required(qa.get("question"), "text", rid)), prompts.pick(spec.task, rid))
        return str(image), spec.resolve_image(str(image)), question, answer_of(qa.get("answer"), "text", rid)

    yield from grouped_questions(spec, items(), convert)
