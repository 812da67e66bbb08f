"""Parsing the LLM's tagged items ``<Qk>..</Qk> <Ck>..</Ck> <Ak>..</Ak>`` (untrusted text: only matched
with regular expressions, sizes bounded)."""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG = re.compile(r"<([QCA])(\d{1,3})>(.*?)</\1\2>", re.DOTALL)


@dataclass(frozen=True)
class TaggedItem:
    index: int
    question: str
    context: str  # options for multiple choice; the supporting caption text otherwise
    answer: str


class TaggedError(Exception):
    """The answer holds no usable item; ``reason`` is the rejects.jsonl reason."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


def parse_tagged(text: str, max_chars: int = 1500) -> tuple[list[TaggedItem], list[tuple[int, str, str]]]:
    """The complete items in index order and, per incomplete or oversized item, ``(index, reason, detail)``.

    An item needs a non-empty question and answer (the context may be empty); a field longer than
    ``max_chars`` rejects its item. :class:`TaggedError` when the text has no tag at all.
    """
    fields: dict[int, dict[str, str]] = {}
    for kind, index, body in TAG.findall(text or ""):
        fields.setdefault(int(index), {}).setdefault(kind, body.strip())
    if not fields:
        raise TaggedError("no_tagged_items", f"no <Qk>/<Ak> tags in {len(text or '')} characters: {(text or '')[:120]!r}")
    items: list[TaggedItem] = []
    problems: list[tuple[int, str, str]] = []
    for index in sorted(fields):
        got = fields[index]
        missing = [k for k in ("Q", "A") if not got.get(k)]
        if missing:
            problems.append((index, "incomplete_item", f"item {index} has no {'/'.join(missing)}"))
            continue
        if too_long := [k for k, v in got.items() if len(v) > max_chars]:
            problems.append((index, "field_too_long", f"item {index}: {'/'.join(too_long)} over {max_chars} characters"))
            continue
        items.append(TaggedItem(index, got["Q"], got.get("C", ""), got["A"]))
    return items, problems
