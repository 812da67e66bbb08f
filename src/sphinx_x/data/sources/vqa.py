"""Visual question answering on natural images: VQAv2, OKVQA, GQA, CLEVR, TextVQA.

Every question of an image goes into one dialogue (``options.max_turns`` splits it), in file order;
each question is followed by the task prompt (``task``: ``vqa``, or ``textvqa`` with the OCR tokens).
A question without a usable answer is one reject; the image's other questions are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, json_list, load_json, register_reader
from sphinx_x.data.sources.dialogue import answer_of, ask, qa_records, required_text
from sphinx_x.data.sources.values import (
    SourceOptionError,
    as_item,
    as_list,
    as_object,
    convert_safely,
    integer,
    is_key,
    is_number,
    key_of,
    text,
)


def most_common_answer(answers: Any, rid: str) -> str:
    """The most frequent non-empty answer (ties: the first given); numbers count as their text."""
    texts = [str(a) if is_number(a) else a for a in as_list(answers, "answers", rid)]
    counts = Counter(a.strip() for a in texts if isinstance(a, str) and a.strip())
    if not counts:
        raise RecordError("empty_answer", "no non-empty answer", rid)
    return text(counts.most_common(1)[0][0], "answer", rid)


Question = tuple[str, str, str, str]  # (image key, image path, question text, answer)


def grouped_questions(spec: SourceSpec, items: Iterable[Any], convert: Callable[[dict[str, Any], int], Question],
                      file: str | None = None) -> Iterator[Record | RecordError]:
    """Image dialogues from question items, grouped by image in order of first appearance.

    ``convert(item, n)`` turns the ``n``-th item into a :data:`Question` or raises a RecordError; an
    item that is not a JSON object is a ``malformed_item`` reject. Rejects are located at
    ``<file>:<n>`` (``file`` defaults to the source's annotation file).
    """
    images: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    file = file or spec.file_label
    for n, item in enumerate(items):
        if isinstance(item, RecordError):
            yield item
            continue
        question = convert_safely(_checked, convert, item, n, spec.name, rid=f"{spec.name}/{n}", where=f"{file}:{n}")
        if isinstance(question, RecordError):
            yield question
            continue
        image_key, path, question_text, answer = question
        images.setdefault(image_key, (path, []))[1].append((question_text, answer))
    for image_key, (path, turns) in images.items():
        yield from qa_records(spec, image_key, path, turns)


def _checked(convert: Callable[[dict[str, Any], int], Question], item: Any, n: int, source: str) -> Question:
    return convert(as_item(item, f"{source}/{n}"), n)


def required_option(spec: SourceSpec, key: str, what: str) -> str:
    if not spec.options.get(key):
        raise SourceOptionError(f"data.sources.{spec.name}.options.{key}: path to {what} is required")
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
    annotations_file = required_option(spec, "annotations", "the VQA annotations json")
    annotations = json_list(load_json(annotations_file), "annotations", annotations_file)
    by_question = {a.get("question_id"): a for a in annotations
                   if isinstance(a, dict) and is_key(a.get("question_id"))}
    pattern = spec.options.get("image_pattern", "COCO_{subtype}_{image_id:012d}.jpg")
    subtype = questions.get("data_subtype") if isinstance(questions, dict) else None
    subtype = subtype if isinstance(subtype, str) and subtype.isidentifier() else "train2014"
    field = spec.options.get("answer_field", "answer")

    def convert(q: dict[str, Any], n: int) -> Question:
        image_id, question_id = q.get("image_id"), q.get("question_id")
        rid = f"{spec.name}/{key_of(image_id, None)}/q{key_of(question_id, n)}"
        image_id = integer(image_id, "image_id", rid)
        annotation = by_question.get(question_id) if is_key(question_id) else None
        if annotation is None:
            raise RecordError("no_annotation", f"question {short_repr(question_id)} has no annotation", rid)
        answers = [a.get(field, a.get("answer")) for a in as_list(annotation.get("answers"), "answers", rid)
                   if isinstance(a, dict)]
        answer = most_common_answer(answers, rid)
        path = spec.resolve_image(pattern.format(subtype=subtype, image_id=image_id))
        return str(image_id), path, ask(required_text(q, "question", rid), prompts.pick(spec.task, rid)), answer

    yield from grouped_questions(spec, json_list(questions, "questions", spec.path), convert)


@register_reader("gqa")
def read_gqa(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """GQA ``train_balanced_questions.json``: {question id: {``imageId``, ``question``, ``answer``,
    ``fullAnswer``, ...}}; images ``<imageId>.jpg`` under ``image_root``. ``options.full_answer: true``
    trains on ``fullAnswer`` instead of the short ``answer``."""
    field = "fullAnswer" if spec.options.get("full_answer") else "answer"
    questions = json_list(load_json(spec.path), None, spec.path, mapping=True)

    def convert(entry: dict[str, Any], n: int) -> Question:
        qid, q = entry["id"], entry["question"]
        rid = f"{spec.name}/{key_of(q.get('imageId'), None) if isinstance(q, dict) else None}/q{qid}"
        q = as_object(q, f"question {qid}", rid)
        image = required_text(q, "imageId", rid, numbers=True)
        question = ask(required_text(q, "question", rid), prompts.pick(spec.task, rid))
        return image, spec.resolve_image(f"{image}.jpg"), question, answer_of(q, field, rid)

    yield from grouped_questions(spec, ({"id": k, "question": v} for k, v in questions.items()), convert)


@register_reader("clevr")
def read_clevr(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """CLEVR v1.0 ``questions/CLEVR_train_questions.json``: ``questions`` [{``image_filename``,
    ``question_index``, ``question``, ``answer``}]; images under ``image_root`` (``images/train``)."""
    questions = json_list(load_json(spec.path), "questions", spec.path)

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{key_of(q.get('image_filename'), None)}/q{key_of(q.get('question_index'), n)}"
        image = required_text(q, "image_filename", rid)
        question = ask(required_text(q, "question", rid), prompts.pick(spec.task, rid))
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
        for entry in json_list(load_json(spec.options["ocr"]), "data", spec.options["ocr"]):
            if isinstance(entry, dict) and is_key(entry.get("image_id")):
                ocr[str(entry["image_id"])] = ocr_words(entry)
    questions = json_list(load_json(spec.path), "data", spec.path)

    def convert(q: dict[str, Any], n: int) -> Question:
        rid = f"{spec.name}/{key_of(q.get('image_id'), None)}/q{key_of(q.get('question_id'), n)}"
        image = required_text(q, "image_id", rid, numbers=True)
        tokens = ocr_words(q) or ocr.get(image, [])
        question = ask(required_text(q, "question", rid), prompts.pick(spec.task, rid, ocr=", ".join(tokens)))
        return image, spec.resolve_image(f"{image}.jpg"), question, most_common_answer(q.get("answers") or [], rid)

    yield from grouped_questions(spec, questions, convert)


def ocr_words(entry: dict[str, Any]) -> list[str]:
    """An entry's OCR words: ``ocr_tokens``, else the ``word`` of each ``ocr_info`` item (text values only)."""
    info = entry.get("ocr_info")
    words = entry.get("ocr_tokens") or [w.get("word") for w in info if isinstance(w, dict)] if isinstance(info, list) \
        else entry.get("ocr_tokens")
    if not isinstance(words, list):
        return []
    return [w.strip() for w in (str(w) if is_number(w) else w for w in words) if isinstance(w, str) and w.strip()]
