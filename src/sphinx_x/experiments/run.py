"""Run a study's grid as one Hydra multirun, then write its report.

``python -m sphinx_x.experiments.run <study> [--scale demo] [--steps N] [-- extra Hydra overrides]``

Every grid point x seed is one ``sphinx_x.experiments.trial`` job (train, then the held-out
benchmarks); the jobs land in ``<out>/<study>/<scale>_<time>/<job>``. Afterwards
``sphinx_x.experiments.report`` gathers them into ``experiments/<study>/`` (demo scale).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sphinx_x.experiments.study import DEFAULT_ROOT, Study, StudyError, load_study, sweep_overrides

log = logging.getLogger(__name__)
TRIAL_MODULE = "sphinx_x.experiments.trial"


def data_dir(study: Study, out: Path) -> Path:
    """Where the study's preparer writes (shared by its runs): ``<out>/<study>/data``."""
    return out / study.name / "data"


def trial_overrides(study: Study, scale: str, root: Path, out: Path, steps: int | None = None,
                    extra: Sequence[str] = (), absolute: bool = True) -> list[str]:
    """The fixed overrides of every job of ``study`` at ``scale`` (without the grid and seeds);
    ``absolute=False`` keeps the paths relative to the repository (for a sweep file run from its root)."""
    spec = study.scale(scale)
    steps = steps if steps is not None else spec.steps
    data = data_dir(study, out).resolve() if absolute else data_dir(study, out)
    return [f"study.name={study.name}", f"study.scale={scale}",
            *([f"study.root={root.resolve()}"] if absolute else [] if root == DEFAULT_ROOT else [f"study.root={root}"]),
            *([f"study.data_dir={data}"] if spec.prepare else []), *spec.overrides,
            *([f"trainer.max_steps={steps}"] if steps is not None else []), *extra]


def multirun_command(study: Study, scale: str, root: Path, out: Path, sweep_dir: Path, steps: int | None = None,
                     extra: Sequence[str] = ()) -> list[str]:
    """``python -m sphinx_x.experiments.trial -m <fixed> <grid> seed=... hydra.sweep.dir=...``."""
    return [sys.executable, "-m", TRIAL_MODULE, "-m", *trial_overrides(study, scale, root, out, steps, extra),
            *sweep_overrides(study), f"hydra.sweep.dir={sweep_dir.resolve()}"]


def prepare_data(study: Study, scale: str, root: Path, out: Path, extra: Sequence[str] = ()) -> Path | None:
    """Run the scale's preparer (from the demo world of the composed config) into the study's data folder."""
    name = study.scale(scale).prepare
    if name is None:
        return None
    from sphinx_x.experiments.prepare import PREPARERS
    from sphinx_x.experiments.trial import compose_trial

    cfg = compose_trial(trial_overrides(study, scale, root, out, extra=extra))
    target = data_dir(study, out).resolve()
    counts = PREPARERS[name](Path(cfg.paths.demo_dir), target)
    log.info("prepared %s with %s: %s", target, name, counts)
    return target


def run_study(study: Study, scale: str, root: Path, out: Path, steps: int | None = None,
              extra: Sequence[str] = (), check: bool = True) -> Path:
    """Launch the multirun; returns the sweep directory (raises when a job failed)."""
    study = study.at(scale)
    if check:
        from sphinx_x.experiments.trial import check_grid  # imports training code: only when running

        check_grid(study, scale)
    prepare_data(study, scale, root, out, extra)
    sweep_dir = out / study.name / f"{scale}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    command = multirun_command(study, scale, root, out, sweep_dir, steps, extra)
    log.info("running %d jobs: %s", len(study.grid_points()) * len(study.seeds), " ".join(command))
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"study {study.name}: the multirun failed (exit {done.returncode}); logs in {sweep_dir}")
    return sweep_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sphinx_x.experiments.run", description=__doc__.splitlines()[0])
    parser.add_argument("study", help="a folder of --root holding study.yaml")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every job (after --)")
    parser.add_argument("--scale", default="demo", help="which scales.<name> of the study to run")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder of the studies")
    parser.add_argument("--out", type=Path, default=Path("runs/experiments"), help="where the runs go")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the study's)")
    parser.add_argument("--eval-limit", type=int, default=None, help="questions per benchmark (default: the study's)")
    parser.add_argument("--no-report", action="store_true", help="do not write results.csv, table and plots")
    parser.add_argument("--print", action="store_true", help="print the multirun command and exit")
    parser.add_argument("--prepare-only", action="store_true", help="only write the data the study prepares")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.overrides = [*args.overrides, *argv[cut + 1:]]
    if args.eval_limit is not None:
        args.overrides = [f"study.eval_limit={args.eval_limit}", *args.overrides]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        study = load_study(args.study, args.root).at(args.scale)
        if args.print:
            sweep_dir = args.out / study.name / f"{args.scale}_<time>"
            print(" ".join(multirun_command(study, args.scale, args.root, args.out, sweep_dir, args.steps,
                                            args.overrides)))
            return 0
        if args.prepare_only:
            print(prepare_data(study, args.scale, args.root, args.out, args.overrides))
            return 0
        sweep_dir = run_study(study, args.scale, args.root, args.out, args.steps, args.overrides)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.no_report and args.scale == "demo":
        from sphinx_x.experiments.report import write_report

        for path in write_report(study, sweep_dir):
            print(path)
    print(sweep_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
