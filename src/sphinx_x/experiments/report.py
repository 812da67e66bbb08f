"""Gather a study's runs into ``results.csv``, a markdown table in its README, and PNG plots.

``python -m sphinx_x.experiments.report <study> [--sweep-dir DIR]`` (default: the newest demo sweep of
the study under ``runs/experiments/<study>/``). Writes into ``experiments/<study>/``:

    results.csv           one row per run x eval point: grid values, seed, training numbers, every score
    README.md             the table between <!-- results:begin --> and <!-- results:end -->
    plots/metric_*.png    each headline score per grid point: every seed's value and the mean +- sd
    plots/train_loss.png  training-loss curves, one per run
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from matplotlib.figure import Figure

from sphinx_x.experiments.study import DEFAULT_ROOT, Study, StudyError, load_study

RESULT_FILE = "study_result.json"  # what sphinx_x.experiments.trial writes into each run
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
FIXED_COLUMNS = ("job", "seed", "steps", "train_loss", "val_loss", "train_s", "eval_s")
# means over the run's CSV log (else the last logged value the trial recorded)
TRAIN_EXTRAS = ("visual_tokens_per_sample", "skipped_tile_fraction", "tokens_per_s")


class ReportError(RuntimeError):
    """No runs to report, or runs of another study."""


def find_sweep(study: Study, out: Path, scale: str = "demo") -> Path:
    """The newest sweep directory of ``study`` at ``scale`` that holds at least one finished run."""
    sweeps = sorted((p for p in (out / study.name).glob(f"{scale}_*") if any(p.glob(f"*/{RESULT_FILE}"))),
                    key=lambda p: p.stat().st_mtime)
    if not sweeps:
        raise ReportError(f"no finished runs of study {study.name!r} under {out / study.name} "
                          f"(run: python -m sphinx_x.experiments.run {study.name})")
    return sweeps[-1]


def load_runs(study: Study, sweep_dir: Path) -> list[dict[str, Any]]:
    """Every run's ``study_result.json`` in job order, checked to belong to ``study``."""
    runs = []
    for path in sorted(sweep_dir.glob(f"*/{RESULT_FILE}"), key=lambda p: _job_key(p.parent.name)):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("study") != study.name:
            raise ReportError(f"{path}: a run of study {result.get('study')!r}, not {study.name!r}")
        result["job"] = path.parent.name
        result["run_dir"] = path.parent
        result["train"].update(logged_means(result))
        runs.append(result)
    if not runs:
        raise ReportError(f"{sweep_dir}: no {RESULT_FILE} in any job folder")
    return runs


def logged_means(run: dict[str, Any]) -> dict[str, float]:
    """Means over the run's CSV log of ``train/<extra>`` (the trial records only the last logged value)."""
    name = run.get("metrics_csv")
    if not name or not (run["run_dir"] / name).exists():
        return {}
    sums = {key: [0.0, 0] for key in TRAIN_EXTRAS}
    with (run["run_dir"] / name).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key, acc in sums.items():
                value = row.get(f"train/{key}")
                if value not in (None, ""):
                    acc[0] += float(value)
                    acc[1] += 1
    return {key: total / count for key, (total, count) in sums.items() if count}


def _job_key(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (sys.maxsize, name)


def result_rows(study: Study, runs: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of ``results.csv``: one row per run x eval point."""
    rows: list[dict[str, Any]] = []
    score_columns: list[str] = []
    for run in runs:
        for point in run["evals"]:
            row: dict[str, Any] = {**run["grid"], **{k: _text(v) for k, v in point["options"].items()},
                                   "job": run["job"], "seed": run["seed"], "steps": run["train"]["global_step"],
                                   "train_loss": run["train"]["train_loss"], "val_loss": run["train"]["val_loss"],
                                   "train_s": run["train"]["train_s"], "eval_s": point["eval_s"],
                                   **{k: run["train"][k] for k in TRAIN_EXTRAS if k in run["train"]}}
            for bench, scores in point["scores"].items():
                for key, value in scores.items():
                    column = f"{bench}/{key}"
                    row[column] = value
                    if column not in score_columns:
                        score_columns.append(column)
            rows.append(row)
    extras = [k for k in TRAIN_EXTRAS if any(k in row for row in rows)]
    columns = [*study.grid, *study.eval_grid, *FIXED_COLUMNS, *extras, *score_columns]
    return columns, rows


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def headline_columns(study: Study, columns: Sequence[str]) -> list[str]:
    """The study's metric, then each benchmark's overall accuracy and per-type accuracies."""
    wanted = [study.metric]
    for column in columns:
        bench, _, key = column.partition("/")
        if "/" in column and (key == "accuracy" or key.startswith("accuracy[")) and column not in wanted:
            wanted.append(column)
    return [c for c in wanted if c in columns]


def group_key(study: Study, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in (*study.grid, *study.eval_grid))


def summary(study: Study, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Per grid x eval point: the seeds and each headline score's values."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(group_key(study, row), []).append(row)
    heads = headline_columns(study, columns)
    out = []
    for key, members in groups.items():
        values = {c: [float(m[c]) for m in members if m.get(c) is not None]
                  for c in [*heads, "train_loss", "visual_tokens_per_sample"]}
        out.append({"point": key, "seeds": [m["seed"] for m in members], "values": values,
                    "train_s": statistics.fmean(float(m["train_s"]) for m in members)})
    return out


def _mean_sd(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _short(column: str) -> str:
    """``demo_vqa/accuracy[question_type=colour]`` -> ``demo_vqa colour``."""
    bench, _, key = column.partition("/")
    if "[" in key:
        return f"{bench} {key.split('=', 1)[-1].rstrip(']')}"
    return f"{bench} {key}"


def demo_vqa_baseline(runs: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    """The majority-answer baseline (each question type's most common training answer, as ``make demo``
    prints it) on the questions the runs answered; None when the runs have no demo_vqa scores."""
    scores = runs[0]["evals"][0]["scores"].get("demo_vqa")
    config = run_config(runs[0])
    demo_dir = Path(str(config.get("paths", {}).get("demo_dir", ""))) if config else None
    if scores is None or demo_dir is None or not (demo_dir / "llava_train.json").exists():
        return None
    from sphinx_x.demo.run import majority_answers
    from sphinx_x.eval.benchmarks import get_benchmark
    from sphinx_x.eval.scoring import score_predictions

    spec = get_benchmark("demo_vqa")
    samples = spec.load(demo_dir)[: int(scores["n_samples"])]
    majority = majority_answers(demo_dir)
    return score_predictions(spec, {s.question_id: majority.get(s.meta["question_type"], "") for s in samples},
                             samples)


def run_config(run: dict[str, Any]) -> dict[str, Any] | None:
    """The training config the run saved (``config.yaml``, resolved), as plain data."""
    path = run["run_dir"] / "config.yaml"
    if not path.exists():
        return None
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None


def markdown_table(study: Study, groups: Sequence[dict[str, Any]], columns: Sequence[str],
                   baseline: dict[str, float] | None = None) -> str:
    heads = headline_columns(study, columns)
    names = [*study.grid, *study.eval_grid]
    tokens = any(g["values"]["visual_tokens_per_sample"] for g in groups)
    header = [*names, "seeds", *(f"{_short(c)}" for c in heads), "final train loss",
              *(["visual tokens / sample (mean)"] if tokens else []), "train s / run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in groups:
        cells = [*group["point"], str(len(group["seeds"])), *(_mean_sd(group["values"][c]) for c in heads),
                 _mean_sd(group["values"]["train_loss"]),
                 *([_mean_sd(group["values"]["visual_tokens_per_sample"], 1)] if tokens else []),
                 f"{group['train_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if baseline is not None:
        cells = ["majority-answer baseline", *([""] * (len(names) - 1)), "-",
                 *(f"{baseline[c.split('/', 1)[1]]:.3f}" if c.startswith("demo_vqa/") and c.split("/", 1)[1] in baseline
                   else "-" for c in heads), "-", *(["-"] if tokens else []), "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_metric(study: Study, groups: Sequence[dict[str, Any]], column: str, path: Path,
                baseline: float | None = None) -> None:
    """Every seed's value per grid point (dots) and the mean +- sample sd (bar)."""
    fig = Figure(figsize=(max(4.0, 1.3 * len(groups) + 1.5), 3.6), dpi=100)
    ax = fig.add_subplot()
    labels = ["\n".join(p for p in g["point"]) for g in groups]
    for i, group in enumerate(groups):
        values = group["values"].get(column, [])
        if not values:
            continue
        ax.scatter([i] * len(values), values, color="tab:blue", alpha=0.6, s=18, zorder=3)
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        ax.errorbar([i], [statistics.fmean(values)], yerr=[sd], fmt="_", color="black", markersize=18, capsize=6,
                    zorder=4)
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="majority-answer baseline")
        ax.legend(fontsize=7, loc="best")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(_short(column))
    ax.set_title(f"{study.name}: {_short(column)}\n(dots: one per seed; bar: mean ± sd)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def read_loss_curve(run: dict[str, Any]) -> tuple[list[int], list[float]]:
    """``train/loss`` by step from the run's CSV log (empty when it logged elsewhere, e.g. to wandb)."""
    name = run.get("metrics_csv")
    if not name or not (run["run_dir"] / name).exists():
        return [], []
    steps, losses = [], []
    with (run["run_dir"] / name).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = row.get("train/loss")
            if value not in (None, "") and math.isfinite(float(value)):
                steps.append(int(row["step"]))
                losses.append(float(value))
    return steps, losses


def plot_losses(study: Study, runs: Sequence[dict[str, Any]], path: Path) -> int:
    """One training-loss curve per run (colour: grid point, line style: seed); returns the curves drawn."""
    fig = Figure(figsize=(6.4, 3.8), dpi=100)
    ax = fig.add_subplot()
    points = list(dict.fromkeys(tuple(run["grid"].values()) for run in runs))
    styles = ["-", "--", ":", "-."]
    drawn = 0
    for run in runs:
        steps, losses = read_loss_curve(run)
        if not steps:
            continue
        point = tuple(run["grid"].values())
        label = " ".join(f"{k}={v}" for k, v in run["grid"].items()) or study.name
        ax.plot(steps, losses, color=f"C{points.index(point) % 10}",
                linestyle=styles[study.seeds.index(run["seed"]) % 4] if run["seed"] in study.seeds else "-",
                linewidth=1.2, label=f"{label} seed={run['seed']}")
        drawn += 1
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("train/loss")
    ax.set_title(f"{study.name}: training loss per run", fontsize=9)
    if drawn:
        ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return drawn


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def update_readme(path: Path, study: Study, block: str) -> None:
    """Put ``block`` between the results markers (added at the end when the README has none)."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Study: {study.name}\n\n{study.question}\n"
    section = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def write_report(study: Study, sweep_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """results.csv, the README table and the plots for the runs in ``sweep_dir``; returns the files."""
    out_dir = out_dir or study.directory
    runs = load_runs(study, sweep_dir)
    study = study.at(runs[0]["scale"])
    columns, rows = result_rows(study, runs)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.csv"]
    write_csv(written[0], columns, rows)
    groups = summary(study, rows, columns)
    baseline = demo_vqa_baseline(runs)
    images = []
    for column in headline_columns(study, columns):
        if "[" in column:
            continue  # per-type scores are in the table; one plot per benchmark's overall score
        image = plots / f"metric_{column.replace('/', '_')}.png"
        plot_metric(study, groups, column, image,
                    baseline["accuracy"] if baseline is not None and column == "demo_vqa/accuracy" else None)
        images.append(image)
    loss_png = plots / "train_loss.png"
    plot_losses(study, runs, loss_png)
    images.append(loss_png)
    steps = sorted({r["train"]["global_step"] for r in runs})
    wall = sum(float(r["wall_s"]) for r in runs)
    block = "\n".join([
        f"{len(runs)} runs ({_count(len(study.grid_points()), 'grid point')} x {_count(len(study.seeds), 'seed')}), "
        f"{', '.join(map(str, steps))} optimizer steps each, {wall / 60:.1f} min of run time in all "
        f"(training + held-out evaluation, {os.cpu_count()} CPU cores shared with other work). Mean ± sd "
        "over seeds; every run in [results.csv](results.csv).",
        "",
        markdown_table(study, groups, columns, baseline),
        "",
        *(f"![{p.stem}](plots/{p.name})" for p in images),
    ])
    readme = out_dir / "README.md"
    update_readme(readme, study, block)
    return [*written, readme, *images]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sphinx_x.experiments.report", description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder of the studies")
    parser.add_argument("--out", type=Path, default=Path("runs/experiments"), help="where the runs are")
    parser.add_argument("--sweep-dir", type=Path, default=None, help="the multirun folder (default: newest)")
    args = parser.parse_args(argv)
    try:
        study = load_study(args.study, args.root)
        paths = write_report(study, args.sweep_dir or find_sweep(study, args.out))
    except (StudyError, ReportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
