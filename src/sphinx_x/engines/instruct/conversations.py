"""Kept items -> Records: one dialogue per question type and image (task ``mmi_<type>``), each question
drawn from its type's pool in :data:`sphinx_x.data.prompts.MMINSTRUCT_POOLS` (the type hint appended), so
``repick_prompts`` can draw the hints again with a run's own pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import OPTIONS_HEADER, PromptPool
from sphinx_x.data.records import Record
from sphinx_x.engines.instruct.config import TASKS
from sphinx_x.engines.instruct.quality import LETTERS, QA

SOURCE = "mminstruct"


def options_block(options: Sequence[str]) -> str:
    """SPHINX's options form: the header line, then one ``A. option`` line each."""
    return "\n".join([OPTIONS_HEADER, *(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))])


def instruct_records(key: str, image: str, by_type: Mapping[str, list[QA]], prompts: PromptPool,
                     meta: dict[str, Any]) -> list[Record]:
    """A Record per question type with items (answers: ``Yes``/``No``, ``B. <option>``, the short or long text)."""
    records: list[Record] = []
    for qtype, qas in by_type.items():
        if not qas:
            continue
        dialogue = ImageDialogue(f"{key}/{qtype}", prompts)
        for qa in qas:
            if qtype == "choice":
                answer = f"{qa.answer}. {qa.options[LETTERS.index(qa.answer)]}"
                dialogue.ask(TASKS[qtype], answer, question=qa.question, options=options_block(qa.options))
            else:
                dialogue.ask(TASKS[qtype], qa.answer, question=qa.question)
        records.append(dialogue.record(SOURCE, TASKS[qtype], image, {**meta, "question_type": qtype}))
    return records
