"""The DUE benchmark's common format: DeepForm, KleisterCharity, InfographicsVQA, WikiTableQuestions,
TabFact (and DocVQA).

``path`` is ``<dataset>/<split>/document.jsonl``: one document per line, ``{"name", "language",
"split", "annotations": [{"id", "key", "values": [{"value", "value_variants"?}]}]}``. DUE ships the
documents as ``<dataset>/pdfs/<name>.pdf``; render the page images once (e.g. with PyMuPDF) and point
``image_root`` at them: the image is ``options.image_pattern`` (default ``{name}.png``, the first page;
multi-page KleisterCharity reports are seen through that page only).

``options.style`` says what an annotation's ``key`` is:

- ``qa``: a question (InfographicsVQA, WikiTableQuestions, DocVQA), followed by the ``task`` prompt;
- ``kie``: a field name (DeepForm ``gross_amount``, KleisterCharity ``address__post_town``), asked with
  the ``kie`` pool as words ("gross amount");
- ``fact``: a statement (TabFact) asked with the ``table_fact`` pool; the value 1/0 becomes Yes/No.

Several values (WikiTableQuestions lists, repeated KIE fields) are joined by ", ".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, read_items, register_reader
from sphinx_x.data.sources.dialogue import ask, qa_records, required_text
from sphinx_x.data.sources.values import (
    SourceOptionError,
    as_item,
    as_list,
    convert_safely,
    is_key,
    key_of,
    text,
)

STYLES = ("qa", "kie", "fact")
FACT_ANSWERS = {"1": "Yes", "true": "Yes", "entailed": "Yes", "yes": "Yes",
                "0": "No", "false": "No", "refuted": "No", "no": "No"}


@register_reader("due")
def read_due(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DUE ``document.jsonl`` (see the module docstring); one dialogue per document."""
    style = spec.options.get("style", "qa")
    if style not in STYLES:
        raise SourceOptionError(f"data.sources.{spec.name}.options.style must be one of {STYLES}, got {style!r}")
    pattern = spec.options.get("image_pattern", "{name}.png")
    for n, (where, document) in enumerate(read_items(spec.path)):
        if isinstance(document, RecordError):
            yield document
            continue
        name = document.get("name") if isinstance(document, dict) else None
        name = str(name).removesuffix(".pdf") if is_key(name) else ""
        rid = f"{spec.name}/{name or n}"
        try:
            annotations = as_list(as_item(document, rid).get("annotations", []), "annotations", rid)
            if not name:
                raise RecordError("missing_field", "name", rid)
        except RecordError as error:
            error.where = where
            yield error
            continue
        turns = []
        for k, annotation in enumerate(annotations):
            qrid = f"{rid}/{key_of(annotation.get('id'), k) if isinstance(annotation, dict) else k}"
            turn = convert_safely(_turn, annotation, style, spec.task, prompts, qrid, rid=qrid, where=where)
            if isinstance(turn, RecordError):
                yield turn
            else:
                turns.append(turn)
        yield from qa_records(spec, name, spec.resolve_image(pattern.format(name=name)), turns)


def _turn(annotation: Any, style: str, task: str, prompts: PromptPool, rid: str) -> tuple[str, str]:
    key = required_text(annotation, "key", rid)
    values = [v.get("value") for v in as_list(annotation.get("values") or [], "values", rid) if isinstance(v, dict)]
    values = [text(v, "value", rid, numbers=True) for v in values
              if v is not None and not (isinstance(v, str) and not v.strip())]
    if not values:
        raise RecordError("empty_answer", f"no value for {key!r}", rid)
    if style == "qa":
        return ask(key, prompts.pick(task, rid)), ", ".join(values)
    if style == "kie":
        field = re.sub(r"_+", " ", key).strip()
        return prompts.pick(task, rid, field=field), ", ".join(values)
    answer = FACT_ANSWERS.get(values[0].lower())
    if answer is None:
        raise RecordError("bad_answer", f"fact value {values[0]!r} is not 1/0", rid)
    return prompts.pick(task, rid, statement=key), answer
