"""The demo world's held-out split (written by :mod:`sphinx_x.demo.world`).

``<demo>/vqa_heldout.jsonl``: ``{"question_id", "image" (relative to <demo>), "question", "answer",
"question_type"}``, scored by exact match overall and per question type.
``<demo>/rec_heldout.jsonl``: ``{"question_id", "image", "expression", "box" (x1, y1, x2, y2 pixels),
"width", "height"}``, scored by Acc@IoU0.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sphinx_x.eval.benchmarks.files import first_file, read_jsonl
from sphinx_x.eval.benchmarks.registry import REC_PROMPT, VQA_PROMPT, BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics import ExactMatch, RecAccuracy, RecTarget


def read_demo_vqa(path: Path, *, split: str | None, image_root: Path | None,
                  instruction: str) -> Iterator[EvalSample]:
    file = first_file(path, ["vqa_heldout.jsonl"], "demo VQA file")
    root = image_root or file.parent
    for row in read_jsonl(file):
        yield EvalSample(str(row["question_id"]), [str(root / row["image"])], user_prompt(row["question"], instruction),
                         row["answer"], {"question_type": row["question_type"]})


def read_demo_rec(path: Path, *, split: str | None, image_root: Path | None,
                  instruction: str) -> Iterator[EvalSample]:
    file = first_file(path, ["rec_heldout.jsonl"], "demo REC file")
    root = image_root or file.parent
    for row in read_jsonl(file):
        x1, y1, x2, y2 = (float(v) for v in row["box"])
        yield EvalSample(str(row["question_id"]), [str(root / row["image"])],
                         user_prompt(instruction.format(description=row["expression"])),
                         RecTarget((x1, y1, x2, y2), int(row["width"]), int(row["height"])),
                         {"expression": row["expression"]})


register(BenchmarkSpec(
    name="demo_vqa", reader=read_demo_vqa, metric=ExactMatch, prompt_suffix=VQA_PROMPT, max_new_tokens=16,
    task="vqa", files="vqa_heldout.jsonl, images/", group_by=("question_type",),
))
register(BenchmarkSpec(
    name="demo_rec", reader=read_demo_rec, metric=RecAccuracy, prompt_suffix=REC_PROMPT, max_new_tokens=64,
    task="rec", files="rec_heldout.jsonl, images/",
))
