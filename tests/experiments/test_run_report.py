"""One study's grid run end to end with 2 steps per run (``sphinx_x.experiments.run``: a Hydra multirun
of the trial), then its report: results.csv, the README table between markers, valid PNG plots.

Slow (four short trainings in a subprocess, about a minute on a quiet 2-core machine);
``tests/experiments/test_report.py`` checks the report from generated run results by default."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from sphinx_x.experiments import report, run
from sphinx_x.experiments.report import BEGIN, END
from sphinx_x.experiments.study import load_study
from tests.testkit.studies import write_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, demo_dir):
    root = tmp_path_factory.mktemp("studies")
    folder = write_study(root)
    (folder / "README.md").write_text(f"# tiny\n\nWritten by hand.\n\n{BEGIN}\nold table\n{END}\n\nAfter.\n")
    out = tmp_path_factory.mktemp("runs")
    code = run.main(["tiny", "--root", str(root), "--out", str(out), "--", f"paths.demo_dir={demo_dir}"])
    assert code == 0
    (sweep,) = (out / "tiny").iterdir()
    return root, folder, sweep


def test_every_grid_point_and_seed_is_one_trained_and_scored_run(study_run):
    _, _, sweep = study_run
    results = [json.loads((sweep / str(job) / "study_result.json").read_text()) for job in range(4)]
    assert [(r["grid"]["model/tiling"], r["seed"]) for r in results] == [
        ("grid448", 0), ("grid448", 1), ("grid672", 0), ("grid672", 1)]
    for job, result in enumerate(results):
        assert result["train"]["global_step"] == 2
        assert (sweep / str(job) / "checkpoints" / "last.ckpt").exists()
        (point,) = result["evals"]
        assert sorted(point["scores"]) == ["demo_rec", "demo_vqa"]
        assert point["scores"]["demo_vqa"]["n_samples"] == 2 and point["scores"]["demo_rec"]["n_samples"] == 2
        predictions = (sweep / str(job) / "eval" / "default" / "predictions" / "demo_vqa.jsonl").read_text()
        assert len(predictions.splitlines()) == 2
    config = (sweep / "0" / "config.yaml").read_text()
    assert "seed: 0" in config and "grid: 2" in config  # data.seed follows the study seed; 2 x 2 tiles
    assert "grid: 3" in (sweep / "2" / "config.yaml").read_text()


def test_results_csv_has_one_row_per_run_with_grid_values_and_scores(study_run):
    _, folder, _ = study_run
    with (folder / "results.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[:8] == ["model/tiling", "job", "seed", "steps", "train_loss", "val_loss", "train_s",
                                     "eval_s"]
    assert {"demo_vqa/accuracy", "demo_rec/accuracy", "demo_vqa/n_samples"} <= set(reader.fieldnames)
    assert [(r["model/tiling"], r["seed"], r["steps"]) for r in rows] == [
        ("grid448", "0", "2"), ("grid448", "1", "2"), ("grid672", "0", "2"), ("grid672", "1", "2")]
    assert all(0 <= float(r["demo_vqa/accuracy"]) <= 1 and float(r["train_loss"]) > 0 for r in rows)


def test_the_readme_table_replaces_only_the_marked_block(study_run):
    _, folder, _ = study_run
    text = (folder / "README.md").read_text()
    assert text.startswith("# tiny\n\nWritten by hand.") and text.rstrip().endswith("After.")
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and "old table" not in text
    block = text[text.index(BEGIN):text.index(END)]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| model/tiling | seeds | demo_vqa accuracy |")
    assert [line.split(" | ")[:2] for line in lines[2:]] == [["| grid448", "2"], ["| grid672", "2"],
                                                            ["| majority-answer baseline", "-"]]
    assert "4 runs (2 grid points x 2 seeds), 2 optimizer steps each" in block
    assert "![train_loss](plots/train_loss.png)" in block


def test_plots_are_valid_pngs(study_run):
    _, folder, _ = study_run
    names = sorted(p.name for p in (folder / "plots").iterdir())
    assert names == ["metric_demo_rec_accuracy.png", "metric_demo_vqa_accuracy.png", "train_loss.png"]
    for name in names:
        path = folder / "plots" / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] >= 300


def test_the_report_command_rebuilds_the_same_csv(study_run, capsys):
    root, folder, sweep = study_run
    before = (folder / "results.csv").read_text()
    assert report.main(["tiny", "--root", str(root), "--sweep-dir", str(sweep)]) == 0
    assert (folder / "results.csv").read_text() == before
    assert (folder / "README.md").read_text().count(BEGIN) == 1
    assert str(folder / "results.csv") in capsys.readouterr().out


def test_report_and_run_refuse_clearly(study_run, tmp_path, capsys):
    root, _, sweep = study_run
    assert report.main(["tiny", "--root", str(root), "--out", str(tmp_path)]) == 2
    assert "no finished runs of study 'tiny' under" in capsys.readouterr().err
    assert run.main(["missing", "--root", str(root)]) == 2
    assert "unknown study 'missing'" in capsys.readouterr().err
    write_study(root, "other")
    with pytest.raises(report.ReportError, match=r"a run of study 'tiny', not 'other'"):
        report.load_runs(load_study("other", root), sweep)


def test_an_eval_grid_answers_each_point_from_one_trained_run(tmp_path, demo_dir):
    write_study(tmp_path, grid={}, eval_grid={"describe_first": [False, True]}, seeds=[0])
    out = tmp_path / "runs"
    assert run.main(["tiny", "--root", str(tmp_path), "--out", str(out), "--eval-limit", "1", "--",
                     f"paths.demo_dir={demo_dir}"]) == 0
    (sweep,) = (out / "tiny").iterdir()
    result = json.loads((sweep / "0" / "study_result.json").read_text())
    assert [p["options"] for p in result["evals"]] == [{"describe_first": False}, {"describe_first": True}]
    described = json.loads((sweep / "0" / "eval" / "describe_first-true" / "predictions" / "demo_vqa.jsonl")
                           .read_text().splitlines()[0])
    plain = json.loads((sweep / "0" / "eval" / "describe_first-false" / "predictions" / "demo_vqa.jsonl")
                       .read_text().splitlines()[0])
    assert described["question_id"] == plain["question_id"]
    with (tmp_path / "tiny" / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["describe_first"], r["steps"]) for r in rows] == [("false", "2"), ("true", "2")]
