"""Multiple-choice diagram questions: AI2D and Geometry3K.

A question is written in SPHINX's multiple-choice form: the question, "There are several options:",
one ``A. ...`` line per option, then the ``multiple_choice`` prompt ("Answer with the option's letter
from the given choices directly."); the answer is the letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import OPTIONS_HEADER, PromptPool
from sphinx_x.data.records import Record, RecordError, short_repr
from sphinx_x.data.sources.base import SourceSpec, load_json, register_reader
from sphinx_x.data.sources.dialogue import ask, qa_records, required, required_text
from sphinx_x.data.sources.values import as_list, as_object, is_key, key_of, text

LETTERS = "ABCDEFGH"


def with_options(question: str, options: Any, rid: str) -> str:
    """The question, the options header and one lettered line per option (strings or numbers)."""
    if not isinstance(options, list) or not 2 <= len(options) <= len(LETTERS):
        raise RecordError("bad_options", f"expected 2 to {len(LETTERS)} options, got {short_repr(options)}", rid)
    options = [text(o, f"option {i}", rid, numbers=True, reason="bad_options") for i, o in enumerate(options)]
    lines = [question.strip(), OPTIONS_HEADER, *(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))]
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
            entry = load_json(file)
        except RecordError as error:
            error.record_id = rid
            yield error
            continue
        questions = entry.get("questions") if isinstance(entry, dict) else None
        if not isinstance(questions, dict) or not questions:
            yield RecordError("missing_field", "questions", rid)
            continue
        turns = []
        for k, (question, item) in enumerate(questions.items()):
            qrid = f"{rid}/{key_of(item.get('questionId'), question) if isinstance(item, dict) else question}"
            try:
                options = required(item, "answerTexts", qrid)
                correct = item.get("correctAnswer")
                options = as_list(options, "answerTexts", qrid)
                if not isinstance(correct, int) or isinstance(correct, bool) or not 0 <= correct < len(options):
                    raise RecordError("bad_answer", f"correctAnswer {short_repr(correct)}", qrid)
                question_text = ask(with_options(text(question, "question", qrid), options, qrid),
                                    prompts.pick(spec.task, qrid))
            except RecordError as error:
                error.where = f"{file.name}:{k}"  # the k-th question of the image's file
                yield error
                continue
            turns.append((question_text, LETTERS[correct]))
        name = entry.get("imageName")
        image = str(image_root / (name if is_key(name) and isinstance(name, str) else image_name))
        yield from qa_records(spec, image_name, image, turns)


@register_reader("geometry3k")
def read_geometry3k(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """Geometry3K (Inter-GPS release) split folder ``geometry3k/train/<id>/`` with ``data.json``
    (``id``, ``problem_text``, ``choices``, ``answer``: a letter) and ``img_diagram.png``."""
    folders = [p for p in Path(spec.path).iterdir() if p.is_dir()]
    for folder in sorted(folders, key=lambda p: (len(p.name), p.name)):
        rid = f"{spec.name}/{folder.name}"
        try:
            item = as_object(load_json(folder / "data.json"), "data.json", rid)
            choices = as_list(required(item, "choices", rid), "choices", rid)
            answer = required_text(item, "answer", rid).upper()
            if answer not in LETTERS[: len(choices)]:
                raise RecordError("bad_answer", f"answer {short_repr(answer)} for {len(choices)} choices", rid)
            question = ask(with_options(required_text(item, "problem_text", rid), choices, rid),
                           prompts.pick(spec.task, rid))
        except OSError as e:
            yield RecordError("unreadable_item", str(e), rid, where=f"{folder.name}/data.json:0")
            continue
        except RecordError as error:
            error.where = error.where or f"{folder.name}/data.json:0"
            yield error
            continue
        yield from qa_records(spec, folder.name, str(folder / "img_diagram.png"), [(question, answer)])
