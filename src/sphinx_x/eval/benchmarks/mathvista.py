"""MathVista (testmini, test) in either official release:

- the original ``data/`` folder: ``<split>.json`` (``testmini.json``; ``{pid: problem}``) and the images
  at each problem's relative ``image`` path (``images/<pid>.jpg``);
- the Hugging Face release (AI4Math/MathVista): ``<split>-*.parquet`` (also under ``data/``), one row a
  problem with the image bytes in ``decoded_image``; images are written once to ``<split>_images/``
  unless the ``image`` path exists under the folder.

A problem: ``pid, question, image, choices (list | null), unit, precision, answer, question_type
(multi_choice | free_form), answer_type (text | integer | float | list), metadata {task, skills, ...},
query``. The prompt is the official ``query`` (hint, question and choices). Answers are extracted and
normalised as the official scorer does (:mod:`sphinx_x.eval.metrics.mathvista`), with the optional
judge for answers the rules cannot read; test has no public answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.eval.benchmarks.files import read_json
from sphinx_x.eval.benchmarks.parquet import cache_image, read_parquet
from sphinx_x.eval.benchmarks.registry import BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics.mathvista import SKILLS, TASKS, MathVistaAccuracy, MathVistaTarget


def _split_files(path: Path, split: str) -> list[Path]:
    if path.is_file():
        return [path]
    for folder in (path, path / "data"):
        if (folder / f"{split}.json").is_file():
            return [folder / f"{split}.json"]
        found = sorted(folder.glob(f"{split}-*.parquet"))
        if found:
            return found
    raise FileNotFoundError(f"missing MathVista {split}: expected {split}.json or {split}-*.parquet in {path} "
                            f"(or its data/)")


def _problems(path: Path, split: str) -> tuple[list[dict[str, Any]], Path]:
    """The split's problems and the folder their relative image paths start from."""
    files = _split_files(path, split)
    if files[0].suffix == ".json":
        data = read_json(files[0])
        return [dict(problem, pid=str(problem.get("pid", pid))) for pid, problem in data.items()], files[0].parent
    return [row for file in files for row in read_parquet(file)], path if path.is_dir() else path.parent


def _image(problem: dict[str, Any], root: Path, image_root: Path | None, split: str) -> str:
    relative = problem.get("image") or ""
    base = image_root or root
    if relative and (base / relative).is_file():
        return str(base / relative)
    decoded = problem.get("decoded_image")
    if isinstance(decoded, dict) and decoded.get("bytes"):
        return str(cache_image(decoded["bytes"], root / f"{split}_images", str(problem["pid"])))
    return str(base / relative)


def read_mathvista(path: Path, *, split: str | None, image_root: Path | None,
                   instruction: str) -> Iterator[EvalSample]:
    split = str(split)
    problems, root = _problems(path, split)
    for problem in problems:
        pid = str(problem["pid"])
        metadata = problem.get("metadata") or {}
        task, skills = metadata.get("task", ""), tuple(metadata.get("skills") or ())
        if task and task not in TASKS:
            raise ValueError(f"MathVista {pid}: unknown task {task!r}; known: {TASKS}")
        if set(skills) - set(SKILLS):
            raise ValueError(f"MathVista {pid}: unknown skill(s) {sorted(set(skills) - set(SKILLS))}; known: {SKILLS}")
        answer = problem.get("answer")
        precision = problem.get("precision")
        target = None if answer in (None, "") else MathVistaTarget(
            answer=str(answer), question_type=problem["question_type"], answer_type=problem["answer_type"],
            choices=tuple(str(c) for c in problem.get("choices") or ()),
            precision=int(precision) if precision is not None else None, query=problem["query"], task=task,
            skills=skills)
        meta = {"task": task, "question_type": problem["question_type"], "answer_type": problem["answer_type"],
                "source": metadata.get("source")}
        yield EvalSample(pid, [_image(problem, root, image_root, split)], user_prompt(problem["query"], instruction),
                         target, meta)


register(BenchmarkSpec(
    name="mathvista", reader=read_mathvista, metric=MathVistaAccuracy, prompt_suffix="", max_new_tokens=512,
    task="math", files="<split>.json + images/, or <split>-*.parquet (Hugging Face)", splits=("testmini", "test"),
    judge="optional",
))
