"""Inputs and a scripted answerer for the MMInstruct engine: domain folders of images drawn on the fly
(with a resized copy for dedup) and :func:`instruct_answer`, the content a fake API gives (plug it into
:class:`tests.testkit.fake_vlm.FakeVlm` as ``answer``).

Behaviours: ``"answer"`` gives a caption, then items that pass every rule; ``"bad"`` gives items that break
one rule per type (all-Yes judgements, three options, an ungrounded short answer, a too-short long answer);
``"prose"`` gives text without tags; ``"short_caption"`` gives a two-word caption.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.testkit.som import scene

CAPTION = ("A red ball sits on the left above a yellow kite. A blue box is on the right. A person stands in the "
           "lower right corner next to a sign that reads OPEN. Tags: ball, kite, box, person, sign.")
GOOD = {
    "judgement": [("Is there a red ball?", "", "Yes"), ("Is the box blue?", "", "Yes"),
                  ("Is there a dog in the image?", "", "No"), ("Is it raining?", "", "No")],
    "choice": [("What colour is the ball?", "A. green\nB. red\nC. black\nD. white", "B"),
               ("What is below the ball?", "A. a kite\nB. a car\nC. a tree\nD. a cat", "A"),
               ("Which object is on the right?", "A. a lamp\nB. a chair\nC. a dog\nD. a blue box", "D")],
    "short": [("What colour is the box?", "", "blue"), ("What does the sign read?", "", "OPEN"),
              ("Who stands in the lower right corner?", "", "a person")],
    "long": [("Describe the scene in detail.", "",
              "A red ball sits on the left above a yellow kite, while a blue box is on the right and a person "
              "stands in the lower right corner next to a sign that reads OPEN.")],
}
BAD = {
    "judgement": [("Is there a red ball?", "", "Yes"), ("Is the box blue?", "", "Yes"), ("Is there a kite?", "", "Yes")],
    "choice": [("What colour is the ball?", "A. green\nB. red\nC. black", "B")],
    "short": [("What animal is shown?", "", "a purple elephant")],
    "long": [("Describe the scene in detail.", "", "A ball and a box.")],
}


def write_domains(root: Path, counts: dict[str, int], duplicate: bool = True) -> Path:
    """``root/<domain>/<k>.png`` with distinct scenes; with ``duplicate`` the first domain also gets a
    half-size JPEG copy of its first image (``zz_copy.jpg``, last in name order)."""
    index = 0
    for domain, n in counts.items():
        (root / domain).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            image, _ = scene(index)
            image.save(root / domain / f"{k:03d}.png")
            index += 1
    if duplicate:
        first = next(iter(counts))
        image, _ = scene(0)
        image.resize((image.width // 2, image.height // 2)).save(root / first / "zz_copy.jpg", quality=90)
    return root


def instruct_answer(request: dict[str, Any], behaviour: str) -> str:
    """The content of a fake answer to a caption (image) or item-writing (text-only) request."""
    content = request["messages"][-1]["content"]
    if not isinstance(content, str):
        return "A ball." if behaviour == "short_caption" else CAPTION
    if behaviour == "prose":
        return "Sure! Here are some great questions about the image."
    qtype = re.search(r"Question type: (\w+)", content).group(1)
    items = (BAD if behaviour == "bad" else GOOD)[qtype]
    return "\n".join(f"<Q{k}>{q}</Q{k}> <C{k}>{c}</C{k}> <A{k}>{a}</A{k}>" for k, (q, c, a) in enumerate(items, 1))
