"""Write a study's grid as a Weights & Biases sweep: ``experiments/<study>/sweep.yaml``.

``python -m sphinx_x.experiments.sweep <study> [--scale demo]``, then ``wandb sweep
experiments/<study>/sweep.yaml`` and ``wandb agent <entity/project/id>`` on each worker. The sweep is
method ``grid`` over the same values as ``study.yaml`` (and the seeds); its command calls the same
Hydra entry point as ``sphinx_x.experiments.run`` (``sphinx_x.experiments.trial``) with the scale's
fixed overrides, ``logger=wandb`` and ``${args_no_hyphens}`` (``model/tiling=grid672 seed=1``). Runs
are grouped as ``study-<study>`` and tagged with their grid values by the trial.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sphinx_x.experiments.run import TRIAL_MODULE, trial_overrides
from sphinx_x.experiments.study import DEFAULT_ROOT, Study, StudyError, load_study

SWEEP_FILE = "sweep.yaml"
HYDRA_LAUNCHER = "hydra/launcher="  # a sweep agent runs one job per process: no multirun launcher


def run_dir(study: Study, scale: str, out: Path) -> str:
    """Each agent's run folder: ``<out>/<study>/<scale>_sweep/<wandb run id>`` (what the report reads)."""
    return f"{out.as_posix()}/{study.name}/{scale}_sweep/${{oc.env:WANDB_RUN_ID,local}}"


def sweep_config(study: Study, scale: str, root: Path, out: Path, steps: int | None = None,
                 project: str = "sphinx-x") -> dict[str, Any]:
    """The wandb sweep of ``study`` at ``scale`` as a dict (what ``sweep.yaml`` holds)."""
    study, spec = study.at(scale), study.scale(scale)
    benchmark, score = study.metric.split("/", 1)
    metric_name = f"eval/{study.metric}" if benchmark in spec.evals else None
    fixed = [o for o in trial_overrides(study, scale, root, out, steps, absolute=False)
             if not o.startswith(HYDRA_LAUNCHER)]
    parameters = {key: {"values": list(values)} for key, values in study.grid.items()}
    parameters["seed"] = {"values": list(study.seeds)}
    config: dict[str, Any] = {
        "name": f"{study.name}-{scale}",
        "project": project,
        "program": "src/sphinx_x/experiments/trial.py",  # shown by wandb; the command runs it with -m
        "method": "grid",
        "parameters": parameters,
        "command": ["${env}", "${interpreter}", "-m", TRIAL_MODULE, *fixed, "logger=wandb",
                    f"hydra.run.dir={run_dir(study, scale, out)}", "${args_no_hyphens}"],
    }
    if metric_name and not study.eval_grid:
        config["metric"] = {"name": metric_name, "goal": "maximize"}
    return config


def write_sweep(study: Study, scale: str = "demo", root: Path = DEFAULT_ROOT, out: Path = Path("runs/experiments"),
                steps: int | None = None) -> Path:
    """``<study dir>/sweep.yaml`` (``sweep-<scale>.yaml`` for scales other than demo)."""
    path = study.directory / (SWEEP_FILE if scale == "demo" else f"sweep-{scale}.yaml")
    header = (f"# wandb sweep of study {study.name} ({scale} scale), written by "
              f"python -m sphinx_x.experiments.sweep {study.name}{'' if scale == 'demo' else ' --scale ' + scale}\n"
              f"# wandb sweep {path} && wandb agent <entity>/<project>/<sweep id>   (offline: WANDB_MODE=offline)\n"
              f"# report: python -m sphinx_x.experiments.report {study.name} --sweep-dir {out.as_posix()}/{study.name}/"
              f"{scale}_sweep\n")
    if study.scale(scale).prepare:
        header += (f"# first prepare the data once: python -m sphinx_x.experiments.run {study.name} --prepare-only"
                   f"{'' if scale == 'demo' else ' --scale ' + scale}\n")
    body = yaml.safe_dump(sweep_config(study, scale, root, out, steps), sort_keys=False, width=120)
    path.write_text(header + body, encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sphinx_x.experiments.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder of the studies")
    parser.add_argument("--out", type=Path, default=Path("runs/experiments"), help="where prepared data goes")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the study's)")
    args = parser.parse_args(argv)
    try:
        path = write_sweep(load_study(args.study, args.root), args.scale, args.root, args.out, args.steps)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
