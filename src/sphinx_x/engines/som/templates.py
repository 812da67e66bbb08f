"""Domain-specific instructions for the annotating VLM and the chat request that carries the marked image.

Every domain asks for the same structured answer (:mod:`sphinx_x.engines.som.answers`): a global
caption, a caption per mark and relations between marks, each mark referred to as ``[id]``; what differs
is what the image and the marks are and what a good description says about them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

SYSTEM = ("You annotate images to train a vision-language model. You see an image on which numbered marks "
          "have been drawn. Answer with one JSON object and nothing else.")

DOMAIN_INSTRUCTIONS: dict[str, str] = {
    "natural": (
        "This is a natural photograph. {n} regions are marked: each has a coloured outline or tinted mask and "
        "a number in a small coloured box. Describe the scene as a whole, then each marked object (what it "
        "is, its colour, material, pose or action), then the spatial and functional relations between marked "
        "objects (on, next to, holding, looking at, part of)."),
    "screen": (
        "This is a screenshot of a web page, mobile app or desktop program. {n} UI elements are marked with "
        "numbered boxes. Describe the screen as a whole (which application, which page, what a user can do "
        "here), then each marked element (its type such as button, link, text field or icon, its text, and "
        "what happens when it is used), then relations between elements (the label of, inside, next to, "
        "submits)."),
    "text": (
        "This is a photograph of a scene with text. {n} text regions are marked with numbered outlines. "
        "Describe the scene, then each marked text (read it exactly, and say where it is written: a sign, a "
        "shop front, a product, a vehicle), then relations between marked texts (the same sign, above, "
        "continues)."),
    "document": (
        "This is a document page. {n} layout elements are marked with numbered boxes. Describe the page as a "
        "whole (kind of document, topic), then each marked element (its role such as title, paragraph, "
        "table, figure or caption, and what it says or shows), then relations between elements (the caption "
        "of, the header of, continues, refers to)."),
    "multipanel": (
        "This figure has {n} panels labelled {labels}. Describe the figure as a whole, then each panel, then "
        "how panels relate (same object, same place, a contrast, a sequence)."),
}

ANSWER_FORMAT = (
    "Answer with JSON of this form:\n"
    '{{"caption": "<the whole image, 2-4 sentences>", '
    '"marks": [{{"id": {first}, "caption": "<one or two sentences>"}}, ...], '
    '"relations": [{{"ids": [{first}, {second}], "relation": "<one sentence>"}}, ...]}}\n'
    "Rules: describe every mark ({ids}) and no other; refer to a mark inside any text only as [id], for "
    "example \"{example}\"; never write \"mark 3\" or the bare number; do not mention the drawn outlines, "
    "boxes, masks or numbers themselves; give at most {max_relations} relations.")


def instruction(domain: str, ids: Sequence[str], hints: Sequence[str] | None = None, max_relations: int = 5) -> str:
    """The user instruction for one image: the domain's description of the task, the known labels of the
    marks as hints (from the dataset's annotations), and the answer format."""
    if domain not in DOMAIN_INSTRUCTIONS:
        raise ValueError(f"domain must be one of {tuple(DOMAIN_INSTRUCTIONS)}, got {domain!r}")
    ids = [str(i) for i in ids]
    labels = ", ".join(f"({i})" for i in ids)
    parts = [DOMAIN_INSTRUCTIONS[domain].format(n=len(ids), labels=labels)]
    if hints:
        known = "; ".join(f"[{i}] {hint}" for i, hint in zip(ids, hints, strict=True) if hint)
        parts.append(f"The dataset labels the marks as follows (use them, and add what you see): {known}.")
    first, second = ids[0], ids[1] if len(ids) > 1 else ids[0]
    example = f"a man [{first}] holding a cup [{second}]" if domain != "multipanel" else f"[{first}] shows a cat"
    parts.append(ANSWER_FORMAT.format(first=_literal(first), second=_literal(second), ids=", ".join(ids),
                                      example=example, max_relations=max_relations))
    return "\n\n".join(parts)


def chat_request(model: str, image_png: bytes, text: str, temperature: float, max_tokens: int,
                 json_mode: bool = False) -> dict[str, Any]:
    """The ``chat.completions.create`` arguments: system prompt, then the image and the instruction."""
    url = "data:image/png;base64," + base64.b64encode(image_png).decode()
    request: dict[str, Any] = {
        "model": model, "temperature": temperature, "max_tokens": max_tokens,
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                  {"type": "text", "text": text}]}]}
    if json_mode:
        request["response_format"] = {"type": "json_object"}
    return request


def _literal(mark: str) -> str:
    return mark if mark.isdigit() else f'"{mark}"'
