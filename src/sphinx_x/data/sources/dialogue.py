"""Helpers for readers that write image dialogues (:class:`~sphinx_x.data.image_dialogue.ImageDialogue`):
questions with their task instruction, answers naming regions, turns split by ``options.max_turns``,
and required annotation fields as countable rejects.

SPHINX-X converts every dataset into multi-turn dialogues, so readers put all questions about an image
in one record. Answers that locate things follow the paper's ``<p>name</p> [x1, y1, x2, y2]`` style
with the coordinates left as region placeholders: boxes of one name are joined by ", " and different
names by "; ", e.g. ``<p>cat</p> <region:0>, <region:1>; <p>dog</p> <region:2>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec
from sphinx_x.data.sources.values import SourceOptionError, as_object, text

T = TypeVar("T")


def named(name: str, placeholders: Sequence[str]) -> str:
    """``<p>name</p> <region:0>, <region:1>``."""
    return f"<p>{name}</p> " + ", ".join(placeholders)


def ask(question: str, instruction: str) -> str:
    """A dataset question followed by the task instruction on its own line."""
    return f"{question.strip()}\n{instruction}"


def chunked(items: Sequence[T], size: int | None) -> list[list[T]]:
    """``items`` in consecutive chunks of at most ``size`` (one chunk when ``size`` is None)."""
    if size is None:
        return [list(items)] if items else []
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise SourceOptionError(f"options.max_turns must be a positive integer or null, got {size!r}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def qa_records(spec: SourceSpec, image_key: str, image: str, turns: Sequence[tuple[str, str]]
               ) -> Iterator[Record]:
    """Records ``<name>/<image_key>/<task>/<n>`` holding an image's (question, answer) turns."""
    for n, chunk in enumerate(chunked(turns, spec.options.get("max_turns"))):
        dialogue = ImageDialogue(f"{spec.name}/{image_key}/{spec.task}/{n}")
        for question, answer in chunk:
            dialogue.add(question, answer)
        yield dialogue.record(spec.name, spec.task, image)


def tasks_option(spec: SourceSpec, default: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """``options.tasks`` of a reader that makes several kinds of records, checked against ``allowed``."""
    tasks = spec.options.get("tasks", default)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks) if isinstance(tasks, (list, tuple)) else tasks
    if not isinstance(tasks, list) or set(map(str, tasks)) - set(allowed):
        raise SourceOptionError(f"data.sources.{spec.name}.options.tasks: unknown {tasks!r}; allowed {tuple(allowed)}")
    return tasks


def required(item: Any, key: str, rid: str) -> Any:
    """``item[key]``; absent -> ``missing_field``, blank or empty -> ``empty_field`` RecordError.
    The caller checks the value's type (:func:`required_text`, :mod:`~sphinx_x.data.sources.values`)."""
    value = as_object(item, "item", rid).get(key)
    if value is None:
        raise RecordError("missing_field", key, rid)
    if (isinstance(value, str) and not value.strip()) or (isinstance(value, (list, dict)) and not value):
        raise RecordError("empty_field", key, rid)
    return value


def required_text(item: Any, key: str, rid: str, numbers: bool = False) -> str:
    """The stripped string ``item[key]`` (with ``numbers``, a number's text too): absent ->
    ``missing_field``, blank -> ``empty_field``, another type -> ``bad_type``."""
    return text(as_object(item, "item", rid).get(key), key, rid, numbers=numbers)


def answer_of(item: Any, key: str, rid: str) -> str:
    """The stripped answer ``item[key]``, a string or a number: absent -> ``missing_field``, blank ->
    ``empty_answer``, another type (a list, an object, a boolean, NaN) -> ``bad_type``."""
    return text(as_object(item, "item", rid).get(key), key, rid, numbers=True, reason="empty_answer")
