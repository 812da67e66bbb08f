"""LLaVA-Bench (in-the-wild), the release folder ``llava-bench-in-the-wild/``:

- ``questions.jsonl``: ``{"image", "text", "category": conv | detail | complex, "question_id"}``;
- ``context.jsonl``: ``{"id", "image", "caption"}`` (a string, or a list of sentences joined by newlines);
- ``answers_gpt4.jsonl``: ``{"question_id", "prompt", "text", "answer_id", "model_id", "metadata"}``;
- images ``images/<image>``.

The question is asked as it is; a judge compares the answer with GPT-4's (the official review
prompt, :class:`~sphinx_x.eval.metrics.judged.LlavaBenchScore`); the score is relative to GPT-4's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sphinx_x.eval.benchmarks.files import read_jsonl, require_file
from sphinx_x.eval.benchmarks.registry import BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics.judged import LLAVA_CATEGORIES, LlavaBenchScore, LlavaBenchTarget


def read_llava_bench(path: Path, *, split: str | None, image_root: Path | None,
                     instruction: str) -> Iterator[EvalSample]:
    questions = list(read_jsonl(require_file(path / "questions.jsonl", "LLaVA-Bench questions")))
    contexts = {row["image"]: row["caption"] for row in read_jsonl(require_file(path / "context.jsonl",
                                                                                "LLaVA-Bench context"))}
    references = {str(row["question_id"]): row["text"]
                  for row in read_jsonl(require_file(path / "answers_gpt4.jsonl", "LLaVA-Bench GPT-4 answers"))}
    images = image_root or path / "images"
    for question in questions:
        qid, category = str(question["question_id"]), question["category"]
        if category not in LLAVA_CATEGORIES:
            raise ValueError(f"LLaVA-Bench question {qid}: category {category!r} is not one of {LLAVA_CATEGORIES}")
        if question["image"] not in contexts:
            raise ValueError(f"LLaVA-Bench question {qid}: no context for image {question['image']!r}")
        if qid not in references:
            raise ValueError(f"LLaVA-Bench question {qid}: no GPT-4 answer in answers_gpt4.jsonl")
        caption = contexts[question["image"]]
        context = "\n".join(caption) if isinstance(caption, list) else str(caption)
        yield EvalSample(qid, [str(images / question["image"])], user_prompt(question["text"], instruction),
                         LlavaBenchTarget(question["text"], context, references[qid], category),
                         {"category": category})


register(BenchmarkSpec(
    name="llava_bench", reader=read_llava_bench, metric=LlavaBenchScore, prompt_suffix="", max_new_tokens=512,
    task="open", files="questions.jsonl, context.jsonl, answers_gpt4.jsonl, images/", judge="required",
))
