"""MM-Vet: ``<path>/mm-vet.json`` = ``{"v1_0": {"imagename", "question", "answer", "capability": [...],
"imagesource"}, ...}`` and images ``<path>/images/<imagename>``. The question is asked as it is (as
the SPHINX authors' ``eval_mmvet.py`` does); a judge model grades each answer 0.0-1.0 with the
official few-shot prompt (:class:`~sphinx_x.eval.metrics.judged.MMVetScore`). The results file of
the official evaluator, ``{"v1_0": "answer", ...}``, is written as the server file."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sphinx_x.eval.benchmarks.files import first_file, read_json
from sphinx_x.eval.benchmarks.registry import BenchmarkSpec, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics.judged import MMVET_CAPABILITIES, MMVetScore, MMVetTarget


def read_mmvet(path: Path, *, split: str | None, image_root: Path | None, instruction: str) -> Iterator[EvalSample]:
    file = first_file(path, ["mm-vet.json"], "MM-Vet annotations")
    images = image_root or file.parent / "images"
    for qid, item in read_json(file).items():
        capabilities = tuple(item["capability"])
        unknown = sorted(set(capabilities) - set(MMVET_CAPABILITIES))
        if unknown:
            raise ValueError(f"{file}: {qid}: unknown capability {unknown}; known: {MMVET_CAPABILITIES}")
        yield EvalSample(str(qid), [str(images / item["imagename"])], user_prompt(item["question"], instruction),
                         MMVetTarget(item["question"], item["answer"], capabilities),
                         {"capability": ",".join(capabilities)})


def write_mmvet_results(path: Path, predictions: Mapping[str, str], samples: Sequence[EvalSample]) -> int:
    """``{question_id: answer}`` for every sample (missing answers as "", counted)."""
    missing = sum(sample.question_id not in predictions for sample in samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({s.question_id: (predictions.get(s.question_id) or "").strip() for s in samples},
                               indent=1), encoding="utf-8")
    return missing


register(BenchmarkSpec(
    name="mmvet", reader=read_mmvet, metric=MMVetScore, prompt_suffix="", max_new_tokens=512, task="open",
    files="mm-vet.json, images/<imagename>", write_results=write_mmvet_results, judge="required",
))
