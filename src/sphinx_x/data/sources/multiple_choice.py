"""Multiple-choice diagram questions: AI2D and Geometry3K.

A question is written in SPHINX's multiple-choice form: the question, "There are several options:",
one ``A. ...`` line per option, then the ``multiple_choice`` prompt ("Answer with the option's letter
from the given choices directly."); the answer is the letter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import OPTIONS_HEADER, PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.dialogue import ask, qa_records, required

LETTERS = "ABCDEFGH"


def with_options(question: str, options: Sequence[Any], rid: str) -> str:
    if not 2 <= len(options) <= len(LETTERS) or not all(str(o).strip() for o in options):
        raise RecordError("bad_options", f"{len(options)} options, or an empty one", rid)
    lines = [question.strip(), OPTIONS_HEADER, *(f"{LETTERS[i]}. {str(o).strip()}" for i, o in enumerate(options))]
    return "\n".join(lines)


@register_reader("ai2d")
def read_ai2d(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """AI2D release folder: ``questions/<image>.json`` (``imageName``, ``questions`` {question text:
    {``answerTexts``, ``correctAnswer`` (index), ``questionId``}}) and ``images/<image>``.
    ``options.exclude`` names a file of image ids to leave out (the test split, e.g.
    ``ai2d_test_ids.csv``, one id per line)."""
    root = Path(spec.path)
    image_root = Path(spec.image_root) if spec.image_root else root / "images"
    excluded = set(Path(spec.options["exclude"]).read_text().split()) if spec.options.get("exclude") else set()
    for file in sorted((root / "questions").glob("*.json"), key=lambda p: (len(p.name), p.name)):
        image_name = file.name.removesuffix(".json")
        if image_name.split(".")[0] in excluded:
            continue
        rid = f"{spec.name}/{image_name}"
        try:
            entry = json.loads(file.read_text())
        except json.JSONDecodeError as e:
            yield RecordError("malformed_json", str(e), rid)
            continue
        questions = entry.get("questions") if isinstance(entry, dict) else None
        if not isinstance(questions, dict) or not questions:
            yield RecordError("missing_field", "questions", rid)
            continue
        turns = []
        for question, item in questions.items():
            qrid = f"{rid}/{item.get('questionId', question) if isinstance(item, dict) else question}"
            try:
                options = required(item, "answerTexts", qrid)
                correct = item.get("correctAnswer")
                if not isinstance(correct, int) or not 0 <= correct < len(options):
                    raise RecordError("bad_answer", f"correctAnswer {correct!r}", qrid)
                text = ask(with_options(question, options, qrid), prompts.pick(spec.task, qrid))
            except RecordError as error:
                yield error
                continue
            turns.append((text, LETTERS[correct]))
        image = str(image_root / str(entry.get("imageName") or image_name))
        yield from qa_records(spec, image_name, image, turns)


@register_reader("geometry3k")
def read_geometry3k(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """Geometry3K (Inter-GPS release) split folder ``geometry3k/train/<id>/`` with ``data.json``
    (``id``, ``problem_text``, ``choices``, ``answer``: a letter) and ``img_diagram.png``."""
    folders = [p for p in Path(spec.path).iterdir() if p.is_dir()]
    for folder in sorted(folders, key=lambda p: (len(p.name), p.name)):
        rid = f"{spec.name}/{folder.name}"
        try:
            item = json.loads((folder / "data.json").read_text())
            choices = required(item, "choices", rid)
            answer = str(required(item, "answer", rid)).strip().upper()
            if answer not in LETTERS[: len(choices)]:
                raise RecordError("bad_answer", f"answer {answer!r} for {len(choices)} choices", rid)
            text = ask(with_options(str(required(item, "problem_text", rid)), choices, rid),
                       prompts.pick(spec.task, rid))
        except (OSError, json.JSONDecodeError) as e:
            yield RecordError("unreadable_item", str(e), rid)
            continue
        except RecordError as error:
            yield error
            continue
        yield from qa_records(spec, folder.name, str(folder / "img_diagram.png"), [(text, answer)])
