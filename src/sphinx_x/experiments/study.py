"""A study: ``experiments/<study>/study.yaml``, read and checked before anything runs.

The file::

    question: Does 672 px (3 x 3 sub-images) beat 448 px (2 x 2)?
    grid:                      # training grid, Hydra overrides of the trial config: key -> values
      model/tiling: [grid448, grid672]
    eval_grid: {}              # inference-time options per trained run: active_experts, describe_first
    seeds: [0, 1]              # every grid point is trained once per seed (model init and data order)
    metric: demo_vqa/accuracy  # the headline score: <benchmark>/<score>
    scales:                    # how the same grid runs at each scale
      demo:  {overrides: [experiment=demo], steps: 300, evals: [demo_vqa, demo_rec], eval_limit: 200}
      paper: {overrides: [model=sphinx_tiny, data=all, trainer=gpu, hydra/launcher=slurm], evals: [gqa]}

Runs are ``sphinx_x.experiments.trial`` jobs: ``python -m sphinx_x.experiments.run <study>``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sphinx_x.eval.benchmarks import BENCHMARKS

STUDY_FILE = "study.yaml"
DEFAULT_ROOT = Path("experiments")
EVAL_OPTIONS = {"active_experts": int, "describe_first": bool}  # what eval_grid may vary
STUDY_FIELDS = {"question", "grid", "eval_grid", "seeds", "metric", "scales"}
SCALE_FIELDS = {"overrides", "steps", "evals", "eval_limit", "eval_batch_size", "describe_max_new_tokens", "prepare",
                "grid"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*([./][A-Za-z_][A-Za-z0-9_]*)*$")
GridValue = str | int | float | bool | None


class StudyError(ValueError):
    """A study name or study file that cannot run; the message names the file and the field."""


@dataclass(frozen=True)
class Scale:
    """How a study's grid runs at one scale (demo on CPU, paper on a cluster)."""

    overrides: tuple[str, ...]
    steps: int | None
    evals: tuple[str, ...]
    eval_limit: int | None = None
    eval_batch_size: int = 32
    describe_max_new_tokens: int = 48
    prepare: str | None = None  # a preparer of sphinx_x.experiments.prepare, run before the jobs
    grid: dict[str, tuple[GridValue, ...]] | None = None  # this scale's own grid (e.g. demo mixtures)


@dataclass(frozen=True)
class Study:
    name: str
    directory: Path
    question: str
    grid: dict[str, tuple[GridValue, ...]]
    eval_grid: dict[str, tuple[GridValue, ...]]
    seeds: tuple[int, ...]
    metric: str
    scales: dict[str, Scale] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.directory / STUDY_FILE

    def scale(self, name: str) -> Scale:
        if name not in self.scales:
            raise StudyError(f"{self.file}: scales: no scale {name!r}; the study has {sorted(self.scales)}")
        return self.scales[name]

    def at(self, scale: str) -> Study:
        """The study as it runs at ``scale``: the scale's own grid where it has one."""
        grid = self.scale(scale).grid
        return self if grid is None else dataclasses.replace(self, grid=grid)

    def grid_points(self) -> list[dict[str, GridValue]]:
        """Every training configuration (without the seed), in the grid's order."""
        return [dict(zip(self.grid, values, strict=True)) for values in itertools.product(*self.grid.values())]

    def eval_points(self) -> list[dict[str, GridValue]]:
        """Every inference-time configuration of one trained run ([{}] when nothing varies)."""
        return [dict(zip(self.eval_grid, values, strict=True))
                for values in itertools.product(*self.eval_grid.values())]

    def runs(self) -> Iterator[tuple[dict[str, GridValue], int]]:
        for point in self.grid_points():
            for seed in self.seeds:
                yield point, seed


def override_value(value: GridValue) -> str:
    """A value as Hydra's override grammar writes it (true / false / null / 0.5 / grid448)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def sweep_overrides(study: Study) -> list[str]:
    """The grid and the seeds as Hydra multirun overrides: ``model/tiling=grid448,grid672 seed=0,1``."""
    return [f"{key}={','.join(override_value(v) for v in values)}" for key, values in study.grid.items()] + [
        f"seed={','.join(str(s) for s in study.seeds)}"]


def available_studies(root: Path = DEFAULT_ROOT) -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob(f"*/{STUDY_FILE}"))


def load_study(name: str, root: str | Path = DEFAULT_ROOT) -> Study:
    """Read and check ``<root>/<name>/study.yaml``; errors name the file and the field."""
    root = Path(root)
    if not _NAME.match(name):
        raise StudyError(f"study name {name!r}: lower-case letters, digits and '_' only")
    path = root / name / STUDY_FILE
    if not path.is_file():
        raise StudyError(f"unknown study {name!r}: no {path}; studies under {root}: {available_studies(root)}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise StudyError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: must be a mapping with fields {sorted(STUDY_FIELDS)}")
    unknown = sorted(set(raw) - STUDY_FIELDS)
    if unknown:
        raise StudyError(f"{path}: unknown fields {unknown}; allowed: {sorted(STUDY_FIELDS)}")
    grid = _grid(path, "grid", raw.get("grid"), allow_empty=bool(raw.get("eval_grid")))
    eval_grid = _grid(path, "eval_grid", raw.get("eval_grid") or {}, allow_empty=True)
    for key, values in eval_grid.items():
        kind = EVAL_OPTIONS.get(key)
        if kind is None:
            raise StudyError(f"{path}: eval_grid: unknown option {key!r}; allowed: {sorted(EVAL_OPTIONS)}")
        if any(type(v) is not kind for v in values):
            raise StudyError(f"{path}: eval_grid.{key}: values must be {kind.__name__}, got {list(values)}")
    seeds = raw.get("seeds")
    if not isinstance(seeds, list) or not seeds or any(type(s) is not int for s in seeds):
        raise StudyError(f"{path}: seeds: a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise StudyError(f"{path}: seeds: repeated values in {seeds}")
    scales = raw.get("scales")
    if not isinstance(scales, dict) or "demo" not in scales:
        raise StudyError(f"{path}: scales: a mapping with at least 'demo', got {scales!r}")
    parsed = {scale: _scale(path, scale, spec) for scale, spec in scales.items()}
    metric = raw.get("metric", "demo_vqa/accuracy")
    benchmark = str(metric).split("/", 1)[0]
    if "/" not in str(metric) or benchmark not in parsed["demo"].evals:
        raise StudyError(f"{path}: metric: <benchmark>/<score> with the benchmark among scales.demo.evals "
                         f"{list(parsed['demo'].evals)}, got {metric!r}")
    return Study(name=name, directory=root / name, question=str(raw.get("question") or ""), grid=grid,
                 eval_grid=eval_grid, seeds=tuple(seeds), metric=str(metric), scales=parsed)


def _grid(path: Path, field_name: str, raw: Any, allow_empty: bool) -> dict[str, tuple[GridValue, ...]]:
    if not isinstance(raw, dict) or (not raw and not allow_empty):
        raise StudyError(f"{path}: {field_name}: a mapping of override key -> list of values, got {raw!r}")
    grid: dict[str, tuple[GridValue, ...]] = {}
    for key, values in raw.items():
        if not isinstance(key, str) or not _KEY.match(key) or key == "seed":
            raise StudyError(f"{path}: {field_name}: bad key {key!r} (a Hydra override key such as "
                             "model/tiling or data.prompts.fixed; seeds go in 'seeds')")
        if not isinstance(values, list) or len(values) < 2:
            raise StudyError(f"{path}: {field_name}.{key}: a list of at least two values, got {values!r}")
        if any(not isinstance(v, str | int | float | bool) for v in values) or len(set(map(repr, values))) != len(values):
            raise StudyError(f"{path}: {field_name}.{key}: distinct scalar values, got {values!r}")
        if any(isinstance(v, str) and re.search(r"[,\s\[\]{}()=]", v) for v in values):
            raise StudyError(f"{path}: {field_name}.{key}: values may not hold commas, spaces, brackets or '='")
        grid[key] = tuple(values)
    return grid


def _scale(path: Path, name: str, raw: Any) -> Scale:
    where = f"{path}: scales.{name}"
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: a mapping with fields {sorted(SCALE_FIELDS)}, got {raw!r}")
    unknown = sorted(set(raw) - SCALE_FIELDS)
    if unknown:
        raise StudyError(f"{where}: unknown fields {unknown}; allowed: {sorted(SCALE_FIELDS)}")
    overrides = raw.get("overrides") or []
    if not isinstance(overrides, list) or any(not isinstance(o, str) or "=" not in o for o in overrides):
        raise StudyError(f"{where}.overrides: a list of key=value strings, got {overrides!r}")
    evals = raw.get("evals")
    if not isinstance(evals, list) or not evals:
        raise StudyError(f"{where}.evals: a non-empty list of benchmarks, got {evals!r}")
    unknown_evals = [e for e in evals if e not in BENCHMARKS]
    if unknown_evals:
        raise StudyError(f"{where}.evals: unknown benchmarks {unknown_evals}; choose from {sorted(BENCHMARKS)}")
    grid = _grid(path, f"scales.{name}.grid", raw["grid"], allow_empty=False) if "grid" in raw else None
    prepare = raw.get("prepare")
    if prepare is not None:
        from sphinx_x.experiments.prepare import PREPARERS

        if prepare not in PREPARERS:
            raise StudyError(f"{where}.prepare: unknown preparer {prepare!r}; choose from {sorted(PREPARERS)}")
    numbers = {}
    for key, minimum in (("steps", 1), ("eval_limit", 1), ("eval_batch_size", 1), ("describe_max_new_tokens", 1)):
        value = raw.get(key)
        if value is not None and (type(value) is not int or value < minimum):
            raise StudyError(f"{where}.{key}: an integer >= {minimum} or null, got {value!r}")
        if value is not None:
            numbers[key] = value
    return Scale(overrides=tuple(overrides), steps=numbers.get("steps"), evals=tuple(evals),
                 eval_limit=numbers.get("eval_limit"), prepare=prepare, grid=grid, **{k: numbers[k] for k in ("eval_batch_size",
                                                                                    "describe_max_new_tokens")
                                                          if k in numbers})


def describe_point(point: Mapping[str, GridValue]) -> str:
    """``model/tiling=grid672 data.prompts.fixed=true`` (``-`` for the empty point)."""
    return " ".join(f"{k}={override_value(v)}" for k, v in point.items()) or "-"
