"""OCR-VQA: ``<path>/dataset.json`` = ``{image_id: {"imageURL", "questions": [...], "answers": [...],
"title", "authorName", "genre", "genreID", "split": 1 | 2 | 3}}`` (1 train, 2 val, 3 test) and the
images the official ``loadDataset.py`` downloads, ``<path>/images/<image_id><extension of imageURL>``.
One sample per question, id ``<image_id>_<k>``; scored as the SPHINX authors score it
(:class:`~sphinx_x.eval.metrics.ocrvqa.StrictMatch`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sphinx_x.eval.benchmarks.files import first_file, read_json
from sphinx_x.eval.benchmarks.registry import VQA_PROMPT, BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics.ocrvqa import StrictMatch

SPLITS = {"train": 1, "val": 2, "test": 3}


def read_ocrvqa(path: Path, *, split: str | None, image_root: Path | None, instruction: str) -> Iterator[EvalSample]:
    file = first_file(path, ["dataset.json"], "OCR-VQA dataset.json")
    images = image_root or file.parent / "images"
    wanted = SPLITS[str(split)]
    for image_id, item in read_json(file).items():
        if int(item["split"]) != wanted:
            continue
        questions, answers = item["questions"], item["answers"]
        if len(questions) != len(answers):
            raise ValueError(f"OCR-VQA {image_id}: {len(questions)} questions but {len(answers)} answers")
        extension = os.path.splitext(str(item["imageURL"]))[1]
        image = str(images / f"{image_id}{extension}")
        for k, (question, answer) in enumerate(zip(questions, answers, strict=True)):
            yield EvalSample(f"{image_id}_{k}", [image], user_prompt(question, instruction), str(answer),
                             {"genre": item.get("genre")})


register(BenchmarkSpec(
    name="ocrvqa", reader=read_ocrvqa, metric=StrictMatch, prompt_suffix=VQA_PROMPT, max_new_tokens=32, task="vqa",
    files="dataset.json, images/<image_id>.<ext>", splits=("test", "val", "train"),
))
