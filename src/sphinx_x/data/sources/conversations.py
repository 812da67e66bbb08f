"""Readers for conversation-shaped datasets: LLaVA-Instruct JSON and ShareGPT-style dialogues.

LLaVA layout: ``[{"id", "image"?, "conversations": [{"from": "human"|"gpt", "value"}, ...]}]``.
ShareGPT layout: ``[{"id", "conversations": [{"from": "human"|"gpt"|"system", "value"}, ...]}]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from sphinx_x.data.geometry import BOX_PATTERN
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import IMAGE_TOKEN, Record, RecordError, make_record, validate_record
from sphinx_x.data.sources.base import SourceSpec, read_items, register_reader
from sphinx_x.data.sources.image_size import image_size
from sphinx_x.data.sources.values import (
    SourceOptionError,
    as_item,
    as_list,
    as_object,
    convert_safely,
    key_of,
    text,
)

ROLE_NAMES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
              "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "system": "system"}
BOX_FORMATS = ("none", "normalized_original", "pixels")
# a bracketed list holding NaN or infinity: a broken box, never text to train on
NON_FINITE_BOX = re.compile(r"\[[^\[\]]*\b(?:nan|inf(?:inity)?)\b[^\[\]]*\]", re.IGNORECASE)


def turns_to_messages(turns: Any, rid: str) -> list[dict[str, str]]:
    """ShareGPT ``from``/``value`` turns -> Record messages; a leading assistant turn is dropped.

    Turns must be objects with a known role and a string (or numeric) text; a null or blank text is
    ``empty_turn``, never the words "None" or "".
    """
    messages = []
    for k, turn in enumerate(as_list(turns, "conversations", rid)):
        turn = as_object(turn, f"conversations[{k}]", rid)
        speaker = turn.get("from", turn.get("role"))
        role = ROLE_NAMES.get(speaker.lower()) if isinstance(speaker, str) else None
        if role is None:
            raise RecordError("unknown_role", f"conversations[{k}]: {speaker!r}"[:120], rid)
        value = turn.get("value", turn.get("content"))
        messages.append({"role": role, "content": text(value, f"conversations[{k}].value", rid, numbers=True,
                                                       reason="empty_turn")})
    while messages and messages[0]["role"] == "assistant":
        messages.pop(0)
    return messages


def boxes_to_regions(messages: list[dict[str, str]], box_format: str, size: tuple[int, int] | None,
                     rid: str | None = None) -> list[dict[str, Any]]:
    """Replace every ``[x1, y1, x2, y2]`` in the text by ``<region:K>`` with a pixel region; a box
    written with NaN or infinity is a ``bad_box`` reject."""
    if box_format == "none":
        return []
    if box_format not in BOX_FORMATS:
        raise SourceOptionError(f"options.box_format must be one of {BOX_FORMATS}, got {box_format!r}")
    for message in messages:
        if bad := NON_FINITE_BOX.search(message["content"]):
            raise RecordError("bad_box", f"not finite: {bad.group(0)[:80]}", rid)
    regions: list[dict[str, Any]] = []
    scale_x, scale_y = size if box_format == "normalized_original" and size else (1, 1)

    def to_region(match: Any) -> str:
        x1, y1, x2, y2 = (float(g) for g in match.groups())
        regions.append({"image": 0, "box": [x1 * scale_x, y1 * scale_y, x2 * scale_x, y2 * scale_y]})
        return f"<region:{len(regions) - 1}>"

    for message in messages:
        message["content"] = BOX_PATTERN.sub(to_region, message["content"])
    return regions


def convert_each(spec: SourceSpec, convert: Callable[[dict[str, Any], str], Record]
                 ) -> Iterator[Record | RecordError]:
    """``convert(item, item_id)`` over a JSON/JSONL file; malformed lines and conversion errors pass on,
    located at their line (JSONL) or index (JSON list)."""
    for n, (where, item) in enumerate(read_items(spec.path)):
        if isinstance(item, RecordError):
            yield item
            continue
        rid = key_of(item.get("id"), n) if isinstance(item, dict) else str(n)
        yield convert_safely(_checked, convert, item, rid, spec.name, rid=f"{spec.name}/{rid}", where=where)


def _checked(convert: Callable[[dict[str, Any], str], Record], item: Any, rid: str, source: str) -> Record:
    record = convert(as_item(item, f"{source}/{rid}"), rid)
    validate_record(record)  # here, so that a reject names the item's line
    return record


@register_reader("llava")
def read_llava(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """LLaVA-Instruct style JSON/JSONL (LLaVA-1.5 mix, LVIS-Instruct4V, LLaVAR, ShareGPT4V)."""
    box_format = spec.options.get("box_format", "none")

    def convert(item: dict[str, Any], rid: str) -> Record:
        rid = f"{spec.name}/{rid}"
        messages = turns_to_messages(item.get("conversations"), rid)
        images = item.get("image")
        images = [] if images is None else [images] if isinstance(images, str) else as_list(images, "image", rid)
        images = [text(p, "image", rid, reason="bad_image_path") for p in images]
        n_tokens = sum(m["content"].count(IMAGE_TOKEN) for m in messages)
        if images and n_tokens == 0 and messages:
            messages[0]["content"] = IMAGE_TOKEN + "\n" + messages[0]["content"]
        paths = [spec.resolve_image(p) for p in images]
        size = image_size(rid, file=paths[0]) if paths and box_format == "normalized_original" else None
        regions = boxes_to_regions(messages, box_format, size, rid)
        return make_record(rid, spec.name, spec.task, messages, paths, regions)

    return convert_each(spec, convert)


@register_reader("sharegpt")
def read_sharegpt(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """Text-only ShareGPT-style dialogues (ShareGPT, WizardCoder conversations, demo text)."""

    def convert(item: dict[str, Any], rid: str) -> Record:
        rid = f"{spec.name}/{rid}"
        messages = turns_to_messages(item.get("conversations", item.get("items")), rid)
        messages = [{**m, "content": m["content"].replace(IMAGE_TOKEN, "")} for m in messages]
        return make_record(rid, spec.name, spec.task, messages)

    return convert_each(spec, convert)
