"""Benchmark readers for the official file layouts, and the ``BENCHMARKS`` registry.

Importing this package registers every reader; see ``docs/benchmarks.md`` for the files each
expects and :class:`~sphinx_x.eval.benchmarks.registry.BenchmarkSpec` for the API.
"""

from sphinx_x.eval.benchmarks import (  # noqa: F401  (each module registers its benchmarks)
    ai2d,
    chartqa,
    demo,
    documents,
    gqa,
    grounding,
    hallusion,
    llava_bench,
    mathvista,
    mmbench,
    mme,
    mmmu,
    mmvet,
    ocrvqa,
    pope,
    refcoco,
    scienceqa,
    seed,
    textvqa,
    vizwiz,
    vqa,
)
from sphinx_x.eval.benchmarks.registry import BENCHMARKS, BenchmarkSpec, get_benchmark, register
from sphinx_x.eval.benchmarks.results import results_writer, write_vqa_results
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt

__all__ = ["BENCHMARKS", "BenchmarkSpec", "EvalSample", "get_benchmark", "register", "results_writer",
           "user_prompt", "write_vqa_results"]
