"""Building a Record as a dialogue about one image whose boxes and points become ``<region:K>`` regions.

SPHINX-X turns every dataset into multi-turn dialogues, so readers and the data engines put the
questions about an image in one record. Questions are given as text (:meth:`ImageDialogue.add`) or
drawn from a :class:`~sphinx_x.data.prompts.PromptPool` (:meth:`ImageDialogue.ask`); drawn ones are
remembered in ``meta["prompts"]``, so that :func:`repick_prompts` can draw them again with a run's
own pool (e.g. the fixed-prompt ablation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import IMAGE_TOKEN, Record, conversation, make_record


class ImageDialogue:
    """Question/answer turns about one image and the pixel regions they name; ``<image>`` goes before
    the first question.

    ``id`` is the record id (and the key its drawn prompts are picked with). With ``reuse_regions``
    an equal box or point named again reuses its region; answers that number their regions
    consecutively (``<p>label</p> <region:K>; ...``) turn it off.
    """

    def __init__(self, id: str, prompts: PromptPool | None = None, reuse_regions: bool = True):
        self.id = id
        self.prompts = prompts
        self.reuse_regions = reuse_regions
        self.turns: list[str] = []  # question, answer, question, answer, ...
        self.regions: list[dict[str, Any]] = []
        self.asked: list[dict[str, Any]] = []  # pool and fields of every drawn question

    def box(self, box: Sequence[float]) -> str:
        """Placeholder for a pixel box ``[x1, y1, x2, y2]`` (stored rounded to 0.01 px)."""
        return self._region({"image": 0, "box": [round(float(c), 2) for c in box]})

    def point(self, point: Sequence[float]) -> str:
        """Placeholder for a pixel point ``[x, y]``."""
        return self._region({"image": 0, "point": [float(c) for c in point]})

    def add(self, question: str, answer: str) -> None:
        """A turn with the question as given."""
        self.turns += [f"{IMAGE_TOKEN}\n{question}" if not self.turns else question, answer]

    def ask(self, pool: str, answer: str, **fields: str) -> None:
        """A turn whose question is drawn from the prompt pool ``pool`` with ``fields`` filled in."""
        if self.prompts is None:
            raise ValueError(f"ImageDialogue {self.id!r} has no PromptPool to draw a {pool!r} question from")
        self.add(self.prompts.pick(pool, f"{self.id}:{len(self.asked)}", **fields), answer)
        self.asked.append({"pool": pool, "fields": fields})

    def record(self, source: str, task: str, image: str, meta: dict[str, Any] | None = None) -> Record:
        """The dialogue as a Record; drawn questions are listed in ``meta["prompts"]``."""
        if self.asked:
            meta = {**(meta or {}), "prompts": self.asked}
        return make_record(self.id, source, task, conversation(*self.turns), [image], self.regions, meta)

    def _region(self, region: dict[str, Any]) -> str:
        if not self.reuse_regions or region not in self.regions:
            self.regions.append(region)
            return f"<region:{len(self.regions) - 1}>"
        return f"<region:{self.regions.index(region)}>"


def repick_prompts(record: Record, prompts: PromptPool) -> Record:
    """The record with every drawn question drawn again from ``prompts`` (same pools, fields and keys).

    A record whose messages or ``meta["prompts"]`` do not have that shape is returned as it is: the
    record's own questions stand, and its validation decides whether it can be trained on."""
    meta = record.get("meta")
    asked = meta.get("prompts") if isinstance(meta, dict) else None
    messages = record.get("messages")
    if not asked or not isinstance(asked, list) or not isinstance(messages, list) \
            or not all(isinstance(m, dict) for m in messages):
        return record
    messages = [dict(m) for m in messages]
    users = [m for m in messages if m.get("role") == "user"]
    if len(users) != len(asked) or not all(_drawn(spec, prompts) for spec in asked):
        return record
    for k, (message, spec) in enumerate(zip(users, asked, strict=True)):
        question = prompts.pick(spec["pool"], f"{record.get('id')}:{k}", **spec["fields"])
        message["content"] = f"{IMAGE_TOKEN}\n{question}" if k == 0 else question
    return {**record, "messages": messages}


def _drawn(spec: Any, prompts: PromptPool) -> bool:
    """``{"pool": <a pool of prompts>, "fields": {name: text}}`` as :meth:`ImageDialogue.ask` writes it."""
    return (isinstance(spec, dict) and isinstance(spec.get("pool"), str) and spec["pool"] in prompts.pools
            and isinstance(spec.get("fields"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in spec["fields"].items()))
