"""HallusionBench: ``<path>/HallusionBench.json``, a list of ``{"category": VD | VS, "subcategory",
"visual_input": "0" | "1" | "2", "set_id", "figure_id", "sample_note", "question_id", "question",
"gt_answer_details", "gt_answer": "0" | "1", "filename"}``; ``filename`` (``./hallusion_bench/VD/...png``,
null for questions without a figure) is relative to ``<path>``. Questions without a figure
(``visual_input`` "0") are asked without an image; ``with_text_only=False`` leaves them out.
Scored by :class:`~sphinx_x.eval.metrics.hallusion.HallusionAccuracy` (aAcc, fAcc, qAcc), also per
category.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sphinx_x.eval.benchmarks.files import first_file, read_json
from sphinx_x.eval.benchmarks.registry import VQA_PROMPT, BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics.hallusion import HallusionAccuracy, HallusionTarget


def read_hallusion(path: Path, *, split: str | None, image_root: Path | None, instruction: str,
                   with_text_only: bool = True) -> Iterator[EvalSample]:
    file = first_file(path, ["HallusionBench.json"], "HallusionBench annotations")
    root = image_root or file.parent
    for item in read_json(file):
        category, subcategory, set_id = item["category"], item["subcategory"], str(item["set_id"])
        figure_id, question_id = str(item["figure_id"]), str(item["question_id"])
        has_figure = str(item["visual_input"]) != "0" and bool(item.get("filename"))
        if not has_figure and not with_text_only:
            continue
        group = f"{category}_{subcategory}_{set_id}"
        target = HallusionTarget(str(item["gt_answer"]), f"{group}_{figure_id}", f"{group}_{question_id}")
        if has_figure:
            images, prompt = [str(root / item["filename"])], user_prompt(item["question"], instruction)
        else:
            images, prompt = [], "\n".join([item["question"].strip(), instruction])
        meta = {"category": category, "subcategory": subcategory, "visual_input": str(item["visual_input"])}
        yield EvalSample(f"{group}_{figure_id}_{question_id}", images, prompt, target, meta)


register(BenchmarkSpec(
    name="hallusionbench", reader=read_hallusion, metric=HallusionAccuracy, prompt_suffix=VQA_PROMPT,
    max_new_tokens=16, task="yes_no", files="HallusionBench.json, hallusion_bench/<category>/<subcategory>/",
    group_by=("category",),
))
