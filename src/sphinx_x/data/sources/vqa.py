"""Visual question answering on natural images: VQAv2, OKVQA, GQA, CLEVR, TextVQA.

Every question of an image goes into one dialogue (``options.max_turns`` splits it), in file order;
each question is followed by the task prompt (``task``: ``vqa``, or ``textvqa`` with the OCR tokens).
A question without a usable answer is one reject; the image's other questions are kept.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.dialogue import answer_of, ask, qa_records, required


def most_common_answer(answers: Iterable[str], rid: str) -> str:
    """The most frequent non-empty answer (ties: the first given)."""
    counts = Counter(a.strip() for a in answers if isinstance(a, str) and a.strip())
    if not counts:
        raise RecordError("empty_answer", "no non-empty answer", rid)
    return counts.most_common(1)[0][0]


def load_json(path: str | Path) -> Any:
    with Path(path).open() as f:
        return json.load(f)


Question = tuple[str, str, str, str]  # (image key, image path, question text, answer)


def grouped_questions(spec: SourceSpec, items: Iterable[Any], convert: Callable[[dict[str, Any], int], Question]
                      ) -> Iterator[Record | RecordError]:
    """Image dialogues from question items, grouped by image in order of first appearance.

    ``convert(item, n)`` turns the ``n``-th item into a :data:`Question` or raises a RecordError; an
    item that is not a JSON object is a ``malformed_item`` reject.
    """
    images: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for n, item in enumerate(items):
        try:
            if isinstance(item, RecordError):
                raise item
            if not isinstance(item, dict):
                raise RecordError("malformed_item", f"expected an object, got {type(item).__name__}", f"{spec.name}/{n}")
            image_key, path, question, answer = convert(item, n)
        except RecordError as error:
            yield error
            continue
        images.setdefault(image_key, (path, []))[1].append((question, answer))
    for image_key, (path, turns) in images.items():
        yield from qa_records(spec, image_key, path, turns)


def required_option(spec: SourceSpec, key: str, what: str) -> str:
    if not spec.options.get(key):
        raise ValueError(f"data.sources.{spec.name}.options.{key}: path to {what} is required")
    return str(spec.options[key])


@register_reader("vqa_v2")
def read_vqa_v2(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """VQAv2 / OKVQA: ``path`` is the questions file (``v2_OpenEnded_mscoco_train2014_questions.json``,
    OKVQA ``OpenEnded_mscoco_train2014_questions.json``: ``data_subtype``, ``questions`` [{``image_id``,
    ``question``, ``question_id``}]); ``options.annotations`` the annotations file
    (``v2_mscoco_train2014_annotations.json`` / ``mscoco_train2014_annotations.json``: ``annotations``
    [{``question_id``, ``answers`` [{``answer``}]}]). The answer is the most common of the human answers
    (``options.answer_field``: ``answer``, or ``raw_answer`` for OKVQA's unstemmed answers). Images are
    ``options.image_pattern`` (default ``COCO_{subtype}_{image_id:012d}.jpg``) under ``image_root``.
    """
    questions = load_json(spec.path)
    annotations = load_json(required_option(spec, "annotations", "the VQA annotations json"))
    by_question = {a.get("question_id"): a for a in annotations.get("annotations", [])}
    pattern = spec.options.get("image_pattern", "COCO_{subtype}_{image_id:012d}.jpg")
    subtype = questions.get("data_subtype", "train2014")
    field = spec.options.get("answer_field", "answer")

    def convert(q: dict[str, Any], n: int) -> Question:
        image_id = q.get("image_id")
        rid = f"{spec.name}/{image_id}/q{q.get('question_id')}"
        if not isinstance(image_id, int):
            raise RecordError("missing_field", "image_id", rid)
        annotation = by_question.get(q.get("question_id"))
        if annotation is None:
            raise RecordError("no_annotation", f"question {q.get('question_id')!r} has no annotation", rid)
        answers = [a.get(field, a.get("answer")) for a in annotation.get("answers", []) if isinstance(a, dict)]
        answer = most_common_answer(answers, rid)
        path = spec.resolve_image(pattern.format(subtype=subtype, image_id=image_id))
        return str(image_id), path, ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid)), answer

    yield from grouped_questions(spec, questions.get("questions", []), convert)


@register_reader("gqa")
def read_gqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """GQA ``train_balanced_questions.json``: {question id: {``imageId``, ``question``, ``answer``,
    ``fullAnswer``, ...}}; images ``<imageId>.jpg`` under ``image_root``. ``options.full_answer: true``
    trains on ``fullAnswer`` instead of the short ``answer``."""
    field = "fullAnswer" if spec.options.get("full_answer") else "answer"
    questions = load_json(spec.path)

    def convert(entry: dict[str, Any], n: int) -> Question:
        qid, q = entry["id"], entry["question"]
        rid = f"{spec.name}/{q.get('imageId') if isinstance(q, dict) else None}/q{qid}"
        image = str(required(q, "imageId", rid))
        question = ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(f"{image}.jpg"), question, answer_of(q, field, rid)

    yield from grouped_questions(spec, ({"id": k, "question": v} for k, v in questions.items()), convert)


@register_reader("clevr")
def read_clevr(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """CLEVR v1.0 ``questions/CLEVR_train_questions.json``: ``questions`` [{``image_filename``,
    ``question_index``, ``question``, ``answer``}]; images under ``image_root`` (``images/train``)."""
    questions = load_json(spec.path).get("questions", [])

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{q.get('image_filename')}/q{q.get('question_index', n)}"
        image = str(required(q, "image_filename", rid))
        question = ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(image), question, answer_of(q, "answer", rid)

    yield from grouped_questions(spec, questions, convert)


@register_reader("textvqa")
def read_textvqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """TextVQA ``TextVQA_0.5.1_train.json``: ``data`` [{``question_id``, ``image_id``, ``question``,
    ``answers`` (10)}]; images ``<image_id>.jpg`` under ``image_root`` (``train_images``). The prompt
    (``task: textvqa``) gets the image's OCR tokens, joined by ", ", from the item's ``ocr_tokens`` or
    else ``options.ocr``: the Rosetta file ``TextVQA_Rosetta_OCR_v0.2_train.json`` (``data``
    [{``image_id``, ``ocr_tokens`` or ``ocr_info`` [{``word``}]}])."""
    ocr: dict[str, list[str]] = {}
    if spec.options.get("ocr"):
        for entry in load_json(spec.options["ocr"]).get("data", []):
            words = entry.get("ocr_tokens") or [w.get("word", "") for w in entry.get("ocr_info", [])]
            ocr[entry.get("image_id")] = [str(w) for w in words if str(w).strip()]
    questions = load_json(spec.path).get("data", [])

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{q.get('image_id')}/q{q.get('question_id', n)}"
        image = str(required(q, "image_id", rid))
        tokens = q.get("ocr_tokens") or ocr.get(image, [])
        question = ask(str(required(q, "question", rid)), prompts.pick(spec.task, rid, ocr=", ".join(tokens)))
        return image, spec.resolve_image(f"{image}.jpg"), question, most_common_answer(q.get("answers") or [], rid)

    yield from grouped_questions(spec, questions, convert)
