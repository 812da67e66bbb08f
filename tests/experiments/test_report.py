"""The report from run results as the trial writes them (generated here): results.csv rows and columns,
mean ± sd per grid point in the README table, one plot per benchmark score and the loss curves."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from sphinx_x.experiments.report import BEGIN, END, find_sweep, load_runs, plot_losses, write_report
from sphinx_x.experiments.study import load_study
from tests.testkit.studies import write_study

VQA = {("grid448", 0): 0.5, ("grid448", 1): 0.7, ("grid672", 0): 0.4, ("grid672", 1): 0.4}


def fake_run(job_dir, tiling: str, seed: int, steps: int = 10) -> None:
    """A finished trial's files: study_result.json and the CSV log with train/loss every 2 steps."""
    log = job_dir / "csv" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    rows = ["epoch,step,train/loss,lr-AdamW"] + [f"0,{s},{3.0 - 0.1 * s + 0.01 * seed},0.002"
                                                  for s in range(1, steps, 2)] + ["0,9,,0.002"]
    log.write_text("\n".join(rows) + "\n")
    accuracy = VQA[(tiling, seed)]
    scores = {"demo_vqa": {"accuracy": accuracy, "accuracy[question_type=colour]": 1.0, "n_samples": 10.0},
              "demo_rec": {"accuracy": 0.1, "n_samples": 10.0}}
    result = {"study": "tiny", "scale": "demo", "grid": {"model/tiling": tiling}, "seed": seed,
              "train": {"global_step": steps, "train_loss": 2.0 + seed, "val_loss": None, "train_s": 30.0,
                        "rejected_total": 0, "visual_tokens_per_sample": 59.0 + seed},
              "evals": [{"options": {}, "point": "-", "scores": scores, "eval_s": 5.0}], "wall_s": 35.0,
              "metrics_csv": "csv/version_0/metrics.csv"}
    (job_dir / "study_result.json").write_text(json.dumps(result))


@pytest.fixture
def sweep(tmp_path):
    write_study(tmp_path / "studies")
    sweep = tmp_path / "runs" / "tiny" / "demo_2026-01-01_00-00-00"
    for job, (tiling, seed) in enumerate(VQA):
        fake_run(sweep / str(job), tiling, seed)
    (sweep / "4").mkdir()  # a job that never finished: no study_result.json, not reported
    return sweep


def test_report_files(sweep, tmp_path):
    study = load_study("tiny", tmp_path / "studies")
    assert find_sweep(study, tmp_path / "runs") == sweep
    paths = write_report(study, sweep)
    folder = study.directory
    assert [p.relative_to(folder).as_posix() for p in paths] == [
        "results.csv", "README.md", "plots/metric_demo_vqa_accuracy.png", "plots/metric_demo_rec_accuracy.png",
        "plots/train_loss.png"]
    with (folder / "results.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == ["model/tiling", "job", "seed", "steps", "train_loss", "val_loss", "train_s", "eval_s",
                                 "visual_tokens_per_sample", "demo_vqa/accuracy", "demo_vqa/accuracy[question_type=colour]",
                                 "demo_vqa/n_samples", "demo_rec/accuracy", "demo_rec/n_samples"]
    assert [(r["model/tiling"], r["seed"], r["demo_vqa/accuracy"], r["val_loss"]) for r in rows] == [
        ("grid448", "0", "0.5", ""), ("grid448", "1", "0.7", ""), ("grid672", "0", "0.4", ""), ("grid672", "1", "0.4", "")]
    text = (folder / "README.md").read_text()
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    table = [line for line in block.splitlines() if line.startswith("|")]
    assert table == [
        "| model/tiling | seeds | demo_vqa accuracy | demo_vqa colour | demo_rec accuracy | final train loss "
        "| visual tokens / sample (mean) | train s / run |",
        "|---|---|---|---|---|---|---|---|",
        "| grid448 | 2 | 0.600 ± 0.141 | 1.000 ± 0.000 | 0.100 ± 0.000 | 2.500 ± 0.707 | 59.5 ± 0.7 | 30 |",
        "| grid672 | 2 | 0.400 ± 0.000 | 1.000 ± 0.000 | 0.100 ± 0.000 | 2.500 ± 0.707 | 59.5 ± 0.7 | 30 |"]
    assert "4 runs (2 grid points x 2 seeds), 10 optimizer steps each, 2.3 min of run time in all" in block
    for image in paths[2:]:
        with Image.open(image) as png:
            png.verify()
            assert png.format == "PNG"


def test_one_loss_curve_per_run(sweep, tmp_path):
    study = load_study("tiny", tmp_path / "studies")
    runs = load_runs(study, sweep)
    assert [r["job"] for r in runs] == ["0", "1", "2", "3"]
    assert plot_losses(study, runs, tmp_path / "loss.png") == 4
    (sweep / "3" / "csv" / "version_0" / "metrics.csv").unlink()  # e.g. a run that logged to wandb only
    assert plot_losses(study, runs, tmp_path / "loss.png") == 3


def test_the_majority_answer_baseline_row_and_line(sweep, tmp_path, demo_dir):
    for job in range(4):
        (sweep / str(job) / "config.yaml").write_text(f"paths:\n  demo_dir: {demo_dir}\n")
    study = load_study("tiny", tmp_path / "studies")
    write_report(study, sweep)
    text = (study.directory / "README.md").read_text()
    last = [line for line in text.splitlines() if line.startswith("|")][-1].split(" | ")
    assert last[0] == "| majority-answer baseline" and last[1] == "-"
    vqa, colour, rec = float(last[2]), float(last[3]), last[4]
    assert 0 < vqa < 1 and 0 <= colour <= 1 and rec == "-"  # majority answers: right on some, not all


def test_training_extras_are_means_over_the_csv_log(sweep, tmp_path):
    log = sweep / "0" / "csv" / "version_0" / "metrics.csv"
    log.write_text("epoch,step,train/loss,train/visual_tokens_per_sample\n0,1,3.0,50\n0,3,2.0,60\n0,5,,\n")
    runs = load_runs(load_study("tiny", tmp_path / "studies"), sweep)
    assert runs[0]["train"]["visual_tokens_per_sample"] == 55.0  # not the trial's last value (59.0)
    assert runs[1]["train"]["visual_tokens_per_sample"] == 60.0  # no such column: the trial's value
