"""MMMU (dev, validation, test), one folder per subject as the Hugging Face release (MMMU/MMMU) has it:
``<path>/<Subject>/<split>-00000-of-00001.parquet``, or the same rows as JSON ``<path>/<Subject>/<split>.json``
(a list; each ``image_k`` a file name relative to the subject folder, or null).

A row: ``id`` (``validation_Art_1``), ``question`` and ``options`` (a Python-literal list, read with
``ast.literal_eval``) with ``<image k>`` placeholders, ``image_1``..``image_7`` (Parquet:
``{"bytes", "path"}``, written once to ``<Subject>/<split>_images/``), ``answer`` (a letter, or for open
questions the answer or a list literal of answers), ``question_type`` (multiple-choice | open),
``subfield``, ``topic_difficulty``.

Prompt (the official ``construct_prompt`` with the LLaVA-1.5 config): the question, a blank line, the
options as ``(A) text`` lines, a blank line, "Answer with the option's letter from the given choices
directly."; open questions: the question, a blank line, "Answer the question using a single word or
phrase.". One ``<image>`` per image the text refers to, in order of first mention, before it (the
``<image k>`` text is kept, as the official prompt keeps it). ``single_image=True`` keeps only
questions with one image (what the SPHINX authors' ``MMMU_val_single.json`` holds). Scores per subject
and per discipline (the official six groups).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sphinx_x.data.records import IMAGE_TOKEN
from sphinx_x.eval.benchmarks.files import read_json
from sphinx_x.eval.benchmarks.parquet import cache_image, read_parquet
from sphinx_x.eval.benchmarks.registry import CHOICE_PROMPT, VQA_PROMPT, BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import LETTERS, EvalSample
from sphinx_x.eval.metrics.mmmu import MMMUAccuracy, MMMUTarget

DISCIPLINES: dict[str, tuple[str, ...]] = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine",
                            "Pharmacy", "Public_Health"),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": ("Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
                             "Energy_and_Power", "Materials", "Mechanical_Engineering"),
}
SUBJECTS: dict[str, str] = {subject: discipline for discipline, subjects in DISCIPLINES.items() for subject in subjects}
PLACEHOLDER = re.compile(r"<image (\d+)>")


def _literal_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, list):
        return value
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError) as error:
        raise ValueError(f"{what}: not a list literal: {str(value)[:80]!r}") from error
    if not isinstance(parsed, list):
        raise ValueError(f"{what}: not a list: {str(value)[:80]!r}")
    return parsed


def _rows(folder: Path, split: str) -> tuple[list[dict[str, Any]], bool]:
    """The subject's rows and whether they come from Parquet."""
    parquet = sorted(folder.glob(f"{split}-*.parquet"))
    if parquet:
        return [row for file in parquet for row in read_parquet(file)], True
    if (folder / f"{split}.json").is_file():
        return list(read_json(folder / f"{split}.json")), False
    return [], False


def _image_file(value: Any, folder: Path, split: str, stem: str) -> str:
    if isinstance(value, dict):
        return str(cache_image(value.get("bytes") or b"", folder / f"{split}_images", stem))
    return str(folder / str(value))


def mmmu_prompt(question: str, options: Sequence[str], n_images: int) -> str:
    """The official prompt text after one ``<image>`` per image."""
    if options:
        listed = "".join(f"({LETTERS[i]}) {option}\n" for i, option in enumerate(options))
        text = f"{question}\n\n{listed}\n\n{CHOICE_PROMPT}"
    else:
        text = f"{question}\n\n{VQA_PROMPT}"
    return "\n".join([IMAGE_TOKEN] * n_images + [text])


def read_mmmu(path: Path, *, split: str | None, image_root: Path | None, instruction: str,
              subjects: Sequence[str] | None = None, single_image: bool = False) -> Iterator[EvalSample]:
    split = str(split)
    unknown = sorted(set(subjects or ()) - set(SUBJECTS))
    if unknown:
        raise ValueError(f"MMMU subjects {unknown} unknown; known: {sorted(SUBJECTS)}")
    found = 0
    for subject in subjects or sorted(SUBJECTS):
        folder = path / subject
        rows, _ = _rows(folder, split)
        found += bool(rows)
        for row in rows:
            qid = str(row["id"])
            multiple = row["question_type"] == "multiple-choice"
            options = [str(o) for o in _literal_list(row["options"], f"MMMU {qid} options")] if multiple else []
            text = row["question"] + " " + " ".join(options)
            numbers = list(dict.fromkeys(int(k) for k in PLACEHOLDER.findall(text)))
            if not numbers and row.get("image_1") is not None:
                numbers = [1]
            missing = [k for k in numbers if row.get(f"image_{k}") is None]
            if missing:
                raise ValueError(f"MMMU {qid}: the text refers to <image {missing[0]}>, which the row does not have")
            if single_image and len(numbers) != 1:
                continue
            images = [_image_file(row[f"image_{k}"], image_root or folder, split, f"{qid}_{k}") for k in numbers]
            answer = str(row["answer"])
            target = None
            if answer and answer != "?":
                accepted: str | tuple[str, ...] = answer
                if answer.startswith("["):
                    accepted = tuple(str(a) for a in _literal_list(answer, f"MMMU {qid} answer"))
                lettered = {LETTERS[i]: option for i, option in enumerate(options)}
                target = MMMUTarget(row["question_type"], accepted, lettered, qid)
            meta = {"subject": subject, "discipline": SUBJECTS[subject], "question_type": row["question_type"],
                    "subfield": row.get("subfield")}
            yield EvalSample(qid, images, mmmu_prompt(row["question"], options, len(images)), target, meta)
    if not found:
        raise FileNotFoundError(f"no MMMU {split} file under {path}: expected <Subject>/{split}-*.parquet or "
                                f"<Subject>/{split}.json for subjects such as Accounting, Art, Math")


register(BenchmarkSpec(
    name="mmmu", reader=read_mmmu, metric=MMMUAccuracy, prompt_suffix=CHOICE_PROMPT, max_new_tokens=64,
    task="choice", files="<Subject>/<split>-*.parquet or <Subject>/<split>.json", splits=("validation", "dev", "test"),
    group_by=("discipline", "subject"),
))
