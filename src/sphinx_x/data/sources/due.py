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
from sphinx_x.data.sources.base import SourceSpec, read_json_or_jsonl, register_reader
from sphinx_x.data.sources.dialogue import ask, qa_records, required

STYLES = ("qa", "kie", "fact")
FACT_ANSWERS = {"1": "Yes", "true": "Yes", "entailed": "Yes", "yes": "Yes",
                "0": "No", "false": "No", "refuted": "No", "no": "No"}


@register_reader("due")
def read_due(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """DUE ``document.jsonl`` (see the module docstring); one dialogue per document."""
    style = spec.options.get("style", "qa")
    if style not in STYLES:
        raise ValueError(f"data.sources.{spec.name}.options.style must be one of {STYLES}, got {style!r}")
    pattern = spec.options.get("image_pattern", "{name}.png")
    for n, document in enumerate(read_json_or_jsonl(spec.path)):
        if isinstance(document, RecordError):
            yield document
            continue
        name = str(document.get("name") or "").removesuffix(".pdf")
        rid = f"{spec.name}/{name or n}"
        if not name:
            yield RecordError("missing_field", "name", rid)
            continue
        turns = []
        for k, annotation in enumerate(document.get("annotations") or []):
            qrid = f"{rid}/{annotation.get('id', k)}"
            try:
                turns.append(_turn(annotation, style, spec.task, prompts, qrid))
            except RecordError as error:
                yield error
        yield from qa_records(spec, name, spec.resolve_image(pattern.format(name=name)), turns)


def _turn(annotation: dict[str, Any], style: str, task: str, prompts: PromptPool, rid: str) -> tuple[str, str]:
    key = str(required(annotation, "key", rid)).strip()
    values = [str(v.get("value", "")).strip() for v in annotation.get("values") or [] if isinstance(v, dict)]
    values = [v for v in values if v]
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
