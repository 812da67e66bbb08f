"""The benchmark registry: name -> reader, metric, prompt and generation length.

``BENCHMARKS["vqav2"].load(folder)`` reads the official files into :class:`EvalSample` s and
``spec.metric()`` builds a fresh scorer for them. Readers register themselves on import of
:mod:`sphinx_x.eval.benchmarks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torchmetrics import Metric

from sphinx_x.data.prompts import DEFAULT_POOLS
from sphinx_x.eval.benchmarks.sample import EvalSample

VQA_PROMPT = DEFAULT_POOLS["vqa"][0]
CHOICE_PROMPT = DEFAULT_POOLS["multiple_choice"][0]
REC_PROMPT = DEFAULT_POOLS["rec"][0]
TEXTVQA_PROMPT = DEFAULT_POOLS["textvqa"][0]
VIZWIZ_PROMPT = DEFAULT_POOLS["vizwiz"][0]


class Reader(Protocol):
    def __call__(self, path: Path, *, split: str | None, image_root: Path | None, instruction: str,
                 **options: Any) -> Iterable[EvalSample]: ...


ResultsWriter = Callable[[Path, Mapping[str, str], Sequence[EvalSample]], int]


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark.

    ``prompt_suffix`` is the instruction after the question; for REC and TextVQA it is a template
    (``{description}``, ``{ocr}``). ``splits[0]`` is the default split. ``group_by`` names
    ``EvalSample.meta`` keys that scores are also broken down by, and ``average_groups`` adds the
    mean over those groups (POPE's three sets, ChartQA's two). ``write_results`` writes the
    official evaluation-server file where there is one. ``judge``: "required" where a judge model
    scores the answers (the metric takes ``judge=``, see :mod:`sphinx_x.eval.judge`), "optional"
    where it only helps read them (MathVista), "none" otherwise.
    """

    name: str
    reader: Reader
    metric: Callable[..., Metric]
    prompt_suffix: str
    max_new_tokens: int
    task: str
    files: str
    splits: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    average_groups: bool = False
    write_results: ResultsWriter | None = None
    judge: str = "none"

    def load(self, path: str | Path, split: str | None = None, image_root: str | Path | None = None,
             **options: Any) -> list[EvalSample]:
        """The benchmark's samples, read from its official layout under ``path``."""
        split = split or (self.splits[0] if self.splits else None)
        if self.splits and split not in self.splits:
            raise ValueError(f"{self.name}: split must be one of {self.splits}, got {split!r}")
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{self.name}: annotations not found at {path} (expected {self.files})")
        root = Path(image_root) if image_root is not None else None
        try:
            samples = list(self.reader(path, split=split, image_root=root, instruction=self.prompt_suffix,
                                       **options))
        except KeyError as error:
            raise ValueError(f"{self.name}: malformed annotations under {path}: missing field {error}") from error
        seen: set[str] = set()
        for sample in samples:
            if sample.question_id in seen:
                raise ValueError(f"{self.name}: question_id {sample.question_id!r} appears twice under {path}")
            seen.add(sample.question_id)
        return samples


BENCHMARKS: dict[str, BenchmarkSpec] = {}


def register(spec: BenchmarkSpec) -> BenchmarkSpec:
    if spec.name in BENCHMARKS:
        raise ValueError(f"benchmark {spec.name!r} registered twice")
    BENCHMARKS[spec.name] = spec
    return spec


def get_benchmark(name: str) -> BenchmarkSpec:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name]
