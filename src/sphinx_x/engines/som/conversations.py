"""Training Records about the raw image: every mark is named by its region (``<region:K>``, written as
``[x1, y1, x2, y2]`` in the model frame at tokenisation), never by the number drawn on the marked copy.

- ``som_annotated``: the VLM's global caption, a caption per mark and relations between marks;
- ``som_marks``: what the annotations alone allow (list the marked things, count a category, locate a
  thing named once, name the thing in a region), so the engine yields data with no API at all.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record
from sphinx_x.data.sources.dialogue import chunked, named
from sphinx_x.engines.som.answers import REFERENCE, Annotation
from sphinx_x.engines.som.marks import KINDS, Mark

SOURCE = "som"  # the record source written by the engine; the reader sets its own source name
Turn = tuple[str, str, dict[str, str]]  # (prompt pool, answer, question fields), text with [id] references


def region_of(dialogue: ImageDialogue, mark: Mark) -> str:
    """The ``<region:K>`` placeholder of ``mark`` in ``dialogue`` (its point for point marks)."""
    return dialogue.point(mark.point) if mark.point is not None else dialogue.box(mark.box)


def annotation_turns(annotation: Annotation, caption_pool: str, mark_pool: str, relation_pool: str,
                     mark_field: str = "box") -> list[Turn]:
    """The global caption, then each described mark, then each relation, as turns with [id] references."""
    turns: list[Turn] = [(caption_pool, annotation.caption, {})]
    turns += [(mark_pool, caption, {mark_field: f"[{mark}]"}) for mark, caption in annotation.marks.items()]
    turns += [(relation_pool, sentence, {"a": f"[{a}]", "b": f"[{b}]"}) for a, b, sentence in annotation.relations]
    return turns


def dialogue_records(record_id: str, task: str, image: str, turns: Sequence[Turn], prompts: PromptPool,
                     refer: Callable[[ImageDialogue, str], str], max_turns: int | None,
                     meta: dict[str, Any]) -> list[Record]:
    """Records of at most ``max_turns`` turns each; ``[id]`` in answers and fields becomes ``refer(dialogue, id)``."""
    records = []
    for n, chunk in enumerate(chunked(list(turns), max_turns)):
        dialogue = ImageDialogue(f"{record_id}/{task}/{n}", prompts)

        def render(text: str, dialogue: ImageDialogue = dialogue) -> str:
            return REFERENCE.sub(lambda m: refer(dialogue, m.group(1)), text)

        for pool, answer, fields in chunk:
            dialogue.ask(pool, render(answer), **{k: render(v) for k, v in fields.items()})
        records.append(dialogue.record(SOURCE, task, image, meta))
    return records


def annotated_records(key: str, marks: dict[str, Mark], annotation: Annotation, prompts: PromptPool,
                      max_turns: int | None, meta: dict[str, Any]) -> list[Record]:
    """``som_annotated`` records; ``marks`` maps the drawn numbers ("1", "2", ...) to their marks."""
    turns = annotation_turns(annotation, "som_caption", "region_caption", "som_relation")
    return dialogue_records(key, "som_annotated", f"{key}.png", turns, prompts,
                            lambda dialogue, mark: region_of(dialogue, marks[mark]), max_turns, meta)


def mark_task_records(key: str, domain: str, marks: Sequence[Mark], drawn: Sequence[Mark], prompts: PromptPool,
                      uncountable: Sequence[str] = (), max_turns: int = 6, max_list: int = 40,
                      meta: dict[str, Any] | None = None) -> list[Record]:
    """One ``som_marks`` record from the annotations: list every mark (when at most ``max_list``), count
    up to two categories (not those with crowd regions), locate up to two things named once and name the
    things in up to two drawn regions; at most ``max_turns`` turns."""
    kind = KINDS[domain]
    dialogue = ImageDialogue(f"{key}/som_marks/0", prompts)
    ordered = sorted(marks, key=lambda m: (m.box[1], m.box[0]))
    counts = Counter(m.label for m in marks)
    if 0 < len(marks) <= max_list:
        if domain == "text":
            answer = "; ".join(named(m.label, [region_of(dialogue, m)]) for m in ordered)
        else:
            groups: dict[str, list[str]] = {}
            for m in ordered:
                groups.setdefault(m.label, []).append(region_of(dialogue, m))
            answer = "; ".join(named(label, regions) for label, regions in groups.items())
        dialogue.ask("som_list", answer, kind=kind)
    if domain != "text":
        countable = [label for label in counts if label not in set(uncountable)]
        for label in stable_pick(countable, 2, f"{key}:count"):
            dialogue.ask("som_count", str(counts[label]), category=label)
    once = [m for m in ordered if counts[m.label] == 1]
    for mark in stable_pick(once, 2, f"{key}:locate"):
        if domain == "text":
            dialogue.ask("text_grounding", region_of(dialogue, mark), text=mark.label)
        else:
            dialogue.ask("rec", region_of(dialogue, mark), description=mark.label)
    for mark in stable_pick(list(drawn), 2, f"{key}:name"):
        if domain == "text":
            dialogue.ask("ocr_region", mark.label, box=region_of(dialogue, mark))
        else:
            dialogue.ask("som_region_name", mark.label, kind=kind, box=region_of(dialogue, mark))
    if not dialogue.turns:
        return []
    _trim(dialogue, max_turns)
    return [dialogue.record(SOURCE, "som_marks", f"{key}.png", meta)]


def stable_pick(items: list, n: int, salt: str) -> list:
    """Up to ``n`` items chosen by a stable hash, in their given order."""
    ranked = sorted(range(len(items)), key=lambda i: hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest())
    return [items[i] for i in sorted(ranked[:n])]


def _trim(dialogue: ImageDialogue, max_turns: int) -> None:
    """Keep the first ``max_turns`` turns (regions named only by dropped turns stay, unused)."""
    del dialogue.turns[2 * max_turns:]
    del dialogue.asked[max_turns:]
