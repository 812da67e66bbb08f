"""The VLM's structured answer: parsed and validated, or an :class:`AnswerError` with a countable reason.

The format asked for (see :mod:`sphinx_x.engines.som.templates`)::

    {"caption": "a man [1] holds a cup [2]",
     "marks": [{"id": 1, "caption": "a man in a blue shirt"}, ...],
     "relations": [{"ids": [1, 2], "relation": "[1] is holding [2]"}, ...]}

Marks are referred to in any text as ``[id]``. An answer that names a mark that was not drawn (an invented
mark), refers to marks by bare numbers ("mark 3"), or breaks the structure is rejected whole: such an
answer is not grounded in what was drawn, and the records are trained on the raw image where the numbers
mean nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

REFERENCE = re.compile(r"\[([0-9]{1,3}|[a-z])\]")
BARE_REFERENCE = re.compile(r"\b(?:mark|marks|label|labels|number|no\.|#)\s*#?\d+\b|(?<![\w\[])#\d+\b", re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class AnswerError(ValueError):
    """An answer that cannot be used; ``reason`` is a short code for rejects.jsonl."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class Annotation:
    """A validated answer; mark ids are strings ("3", or a panel letter "b")."""

    caption: str
    marks: dict[str, str]  # id -> caption, in the answer's order
    relations: list[tuple[str, str, str]] = field(default_factory=list)  # (id a, id b, sentence)

    def to_json(self) -> dict[str, Any]:
        return {"caption": self.caption, "marks": [{"id": k, "caption": v} for k, v in self.marks.items()],
                "relations": [{"ids": [a, b], "relation": r} for a, b, r in self.relations]}


def parse_answer(text: str, ids: Collection[str], max_chars: int = 2000) -> Annotation:
    """Parse and validate an answer about the marks ``ids``; raises :class:`AnswerError`."""
    data = _json_object(text)
    known = {str(i) for i in ids}
    caption = _text(data.get("caption"), "missing_caption", "caption", max_chars)
    _check_references(caption, known, "caption")
    marks: dict[str, str] = {}
    items = data.get("marks")
    if not isinstance(items, list):
        raise AnswerError("bad_structure", "'marks' must be a list")
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            raise AnswerError("bad_structure", f"mark entry without an id: {str(item)[:80]}")
        mark = _id(item["id"], known)
        if mark in marks:
            raise AnswerError("duplicate_mark", f"mark {mark} described twice")
        marks[mark] = _text(item.get("caption"), "empty_mark_caption", f"mark {mark}", max_chars)
        _check_references(marks[mark], known, f"mark {mark}")
    if not marks:
        raise AnswerError("no_mark_captions", "no mark is described")
    relations: list[tuple[str, str, str]] = []
    items = data.get("relations", [])
    if not isinstance(items, list):
        raise AnswerError("bad_structure", "'relations' must be a list")
    for item in items:
        pair = item.get("ids") if isinstance(item, dict) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise AnswerError("bad_structure", f"relation without two ids: {str(item)[:80]}")
        a, b = (_id(v, known) for v in pair)
        if a == b:
            raise AnswerError("bad_relation", f"mark {a} related to itself")
        sentence = _text(item.get("relation"), "empty_relation", f"relation {a}-{b}", max_chars)
        _check_references(sentence, known, f"relation {a}-{b}")
        relations.append((a, b, sentence))
    return Annotation(caption, marks, relations)


def references(text: str) -> list[str]:
    """The mark ids referred to as ``[id]`` in ``text``, in order."""
    return REFERENCE.findall(text)


def _json_object(text: str) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        raise AnswerError("empty_answer", "the model returned no text")
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise AnswerError("unparsable_json", f"no JSON object in {text[:120]!r}")
    try:
        data = json.loads(body[start:end + 1])
    except json.JSONDecodeError as e:
        raise AnswerError("unparsable_json", f"{e.msg} at {e.pos} in {text[:120]!r}") from None
    if not isinstance(data, dict):
        raise AnswerError("bad_structure", "the answer is not a JSON object")
    return data


def _text(value: Any, reason: str, where: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnswerError(reason, f"{where} is not a non-empty string")
    value = " ".join(value.split())
    if len(value) > max_chars:
        raise AnswerError("too_long", f"{where} has {len(value)} characters (limit {max_chars})")
    return value


def _id(value: Any, known: set[str]) -> str:
    mark = str(value).strip().strip("[]()").lower() if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if mark not in known:
        raise AnswerError("invented_mark", f"mark {value!r} was not drawn (drawn: {sorted(known, key=_order)})")
    return mark


def _check_references(text: str, known: set[str], where: str) -> None:
    invented = [k for k in references(text) if k not in known]
    if invented:
        raise AnswerError("invented_mark", f"{where} refers to [{invented[0]}], which was not drawn")
    bare = BARE_REFERENCE.search(text)
    if bare:
        raise AnswerError("bare_mark_reference", f"{where} names a mark as {bare.group(0)!r} instead of [id]")


def _order(mark: str) -> tuple[int, str]:
    return (int(mark), "") if mark.isdigit() else (0, mark)
