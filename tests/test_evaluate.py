"""Evaluation: the benchmark loop, ``sphinx_x.evaluate`` outputs and logging, and validation in training."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from lightning.pytorch.loggers import WandbLogger

import sphinx_x.train
from sphinx_x import score
from sphinx_x.eval.benchmarks import EvalSample, get_benchmark
from sphinx_x.eval.callback import BenchmarkValidation
from sphinx_x.eval.loop import evaluate_benchmark, write_outputs
from sphinx_x.evaluate import evaluate, log_results
from sphinx_x.inference import SphinxInference
from sphinx_x.runtime.config import ConfigError
from tests.testkit.configs import compose_config
from tests.testkit.paths import REPO

DEMO_OVERRIDES = ["experiment=demo", "demo_world=null", "data.num_workers=0", "data.num_samples=64",
                  "data.micro_batch_size=4", "global_batch_size=4", "trainer.enable_progress_bar=false",
                  "trainer.log_every_n_steps=1", "trainer.max_steps=2", "trainer.val_check_interval=2",
                  "trainer.limit_val_batches=1"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_run(demo_dir, tmp_path_factory) -> Path:
    """Two training steps with benchmark validation: after the validation epoch and every step."""
    out = tmp_path_factory.mktemp("run")
    cfg = compose_config([*DEMO_OVERRIDES, f"paths.demo_dir={demo_dir}"], out)
    paths = {"demo_vqa": str(demo_dir), "demo_rec": str(demo_dir)}
    callbacks = [BenchmarkValidation(["demo_vqa"], limit=3, benchmark_paths=paths, generation={"max_new_tokens": 3}),
                 BenchmarkValidation(["demo_rec"], every_n_steps=1, limit=2, benchmark_paths=paths,
                                     generation={"max_new_tokens": 4})]
    result = sphinx_x.train.train(cfg, str(out), callbacks)
    assert result["global_step"] == 2
    return out


@pytest.fixture(scope="module")
def engine(trained_run) -> SphinxInference:
    return SphinxInference.from_run(trained_run)


def _metrics(run: Path) -> list[dict[str, str]]:
    with (run / "csv" / "version_0" / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _metrics_header(run: Path) -> list[str]:
    return list(_metrics(run)[0])


def test_callback_logs_benchmark_scores_during_training(trained_run):
    rows = _metrics(trained_run)
    vqa = [r["val/demo_vqa/accuracy"] for r in rows if r["val/demo_vqa/accuracy"]]
    rec = [(r["step"], r["val/demo_rec/accuracy"]) for r in rows if r["val/demo_rec/accuracy"]]
    assert len(vqa) == 1 and 0 <= float(vqa[0]) <= 1  # after the one validation epoch
    assert [step for step, _ in rec] == ["0", "1"]  # every optimizer step (logged at steps 1, 2)
    assert any(key.startswith("val/demo_vqa/accuracy[question_type=") for key in rows[0])
    assert not [key for key in rows[0] if key.startswith("val/demo_vqa/n_")]


def test_callback_restores_train_and_eval_modes(trained_run, demo_dir, demo_tokenizer):
    from sphinx_x.data.datamodule import SphinxDataModule
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.model.module import SphinxModule

    cfg = compose_config([*DEMO_OVERRIDES, f"paths.demo_dir={demo_dir}"], trained_run / "modes")
    module = SphinxModule(cfg.model, cfg.optim, vocab_size=len(demo_tokenizer))
    module.train()
    module.model.vision.experts.eval()  # frozen encoders stay in eval mode while the rest trains
    before = {name: m.training for name, m in module.named_modules()}
    callback = BenchmarkValidation(["demo_vqa"], limit=2, benchmark_paths={"demo_vqa": str(demo_dir)},
                                   generation={"max_new_tokens": 2})
    trainer = SimpleNamespace(datamodule=SphinxDataModule(
        cfg.data, SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)),
                              global_step=0, sanity_checking=False)
    callback.setup(trainer, module, "fit")  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="self.log"):
        metrics = callback.run(trainer, module, on_step=True)  # type: ignore[arg-type]
    assert set(metrics) >= {"val/demo_vqa/accuracy"}
    assert {name: m.training for name, m in module.named_modules()} == before


def test_evaluate_writes_predictions_scores_and_logs(trained_run, demo_dir, tmp_path):
    out = tmp_path / "eval"
    cfg = compose_config([f"ckpt_path={trained_run}", f"paths.demo_dir={demo_dir}", "benchmarks=[demo_vqa,demo_rec]",
                          "limit=3", "batch_size=2", "generation.max_new_tokens=4"], out, config_name="evaluate")
    results = evaluate(cfg, str(out))
    assert set(results) == {"demo_vqa", "demo_rec"}
    for name in results:
        rows = [json.loads(line) for line in (out / "predictions" / f"{name}.jsonl").read_text().splitlines()]
        samples = get_benchmark(name).load(demo_dir)[:3]
        assert [r["question_id"] for r in rows] == [s.question_id for s in samples]
        assert all(isinstance(r["prediction"], str) and r["prompt"] == s.prompt for r, s in zip(rows, samples, strict=True))
        report = json.loads((out / "scores" / f"{name}.json").read_text())
        assert report["benchmark"] == name and report["scores"] == results[name]
        assert report["scores"]["n_samples"] == 3 and report["scores"]["n_missing"] == 0
        assert 0 <= report["scores"]["accuracy"] <= 1
    header = _metrics_header(out)
    assert {"eval/demo_vqa/accuracy", "eval/demo_rec/accuracy", "eval/demo_vqa/n_samples"} <= set(header)
    assert not (out / "server").exists()  # the demo benchmarks have no evaluation-server format


def test_offline_scorer_agrees_with_the_loop(trained_run, demo_dir, tmp_path):
    out = tmp_path / "eval"
    cfg = compose_config([f"ckpt_path={trained_run}", f"paths.demo_dir={demo_dir}", "benchmarks=[demo_vqa]",
                          "limit=4", "generation.max_new_tokens=3"], out, config_name="evaluate")
    scores = evaluate(cfg, str(out))["demo_vqa"]
    # the offline scorer sees all held-out questions: the unanswered ones count as missing (wrong)
    assert score.main(["demo_vqa", str(out / "predictions" / "demo_vqa.jsonl"), str(demo_dir),
                       "--out", str(tmp_path / "offline.json")]) == 0
    offline = json.loads((tmp_path / "offline.json").read_text())["scores"]
    n = offline["n_samples"]
    assert offline["n_missing"] == n - 4
    assert offline["accuracy"] == pytest.approx(scores["accuracy"] * 4 / n)


def test_evaluate_command_line(trained_run, demo_dir, tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "sphinx_x.evaluate", f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}",
           f"paths.demo_dir={demo_dir}", "benchmarks=[demo_rec]", "limit=2", "generation.max_new_tokens=2",
           f"hydra.run.dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "scores" / "demo_rec.json").read_text())["scores"]["n_samples"] == 2
    assert len((out / "predictions" / "demo_rec.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(("override", "message"), [
    ("benchmarks=[nope]", "benchmarks: unknown"),
    ("benchmarks=[]", "benchmarks: empty"),
    ("batch_size=0", "batch_size: must be >= 1"),
    ("ckpt_path=/does/not/exist", "ckpt_path: /does/not/exist does not exist"),
    ("scoring.vqav2.mode=strict", "scoring.vqav2: "),
    ("+scoring.demo_vqa.remove_digit_commas=true", "scoring.demo_vqa: "),
])
def test_config_errors_name_the_field(trained_run, tmp_path, override, message):
    cfg = compose_config([f"ckpt_path={trained_run}", override], tmp_path, config_name="evaluate")
    with pytest.raises(ConfigError, match=message):
        evaluate(cfg, str(tmp_path))


def test_missing_ckpt_path_is_a_config_error(tmp_path):
    cfg = compose_config([], tmp_path, config_name="evaluate")
    with pytest.raises(ConfigError, match="ckpt_path: required"):
        evaluate(cfg, str(tmp_path))


def test_unreadable_images_are_counted_not_fatal(engine, demo_dir, tmp_path):
    spec = get_benchmark("demo_vqa")
    samples = spec.load(demo_dir)[:3]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    samples[1] = EvalSample(samples[1].question_id, [str(broken)], samples[1].prompt, samples[1].target)
    rejects: list[dict] = []
    rows, scores = evaluate_benchmark(engine, spec, samples, batch_size=3, generation={"max_new_tokens": 2},
                                      rejects=rejects)
    assert [r["question_id"] for r in rows] == [samples[0].question_id, samples[2].question_id]
    assert scores["n_failed"] == 1 and scores["n_missing"] == 1 and scores["n_samples"] == 3
    assert rejects[0]["question_id"] == samples[1].question_id and "UnidentifiedImageError" in rejects[0]["reason"]
    paths = write_outputs(tmp_path / "out", spec, rows, scores, samples, rejects=rejects)
    assert json.loads(paths["scores"].read_text())["missing_question_ids"] == [samples[1].question_id]
    assert len(paths["rejects"].read_text().splitlines()) == 1


def test_describe_first_rows_keep_the_description(engine, demo_dir):
    spec = get_benchmark("demo_vqa")
    rows, _ = evaluate_benchmark(engine, spec, spec.load(demo_dir), limit=2, describe_first=True,
                                 describe_max_new_tokens=3, generation={"max_new_tokens": 2})
    assert len(rows) == 2 and all(isinstance(r["description"], str) and r["description"] for r in rows)


def test_server_file_for_unlabelled_split(tmp_path):
    spec = get_benchmark("vqav2")
    samples = [EvalSample("42", ["a.jpg"], "<image>\nq", None), EvalSample("7", ["b.jpg"], "<image>\nq", None)]
    rows = [{"question_id": "42", "prediction": " two "}]
    from sphinx_x.eval.loop import score_rows

    scores = score_rows(spec, rows, samples)
    assert scores == {"n_samples": 2.0, "n_missing": 1.0}
    paths = write_outputs(tmp_path, spec, rows, scores, samples)
    assert json.loads(paths["server"].read_text()) == [{"question_id": 42, "answer": "two"},
                                                       {"question_id": 7, "answer": ""}]


def test_wandb_gets_a_predictions_table():
    logger = MagicMock(spec=WandbLogger)
    rows = [{"question_id": "1", "prompt": "p", "prediction": "red", "target": "red"}]
    log_results(logger, "demo_vqa", rows, {"accuracy": 1.0})
    logger.log_metrics.assert_called_once_with({"eval/demo_vqa/accuracy": 1.0}, step=0)
    table = logger.log_table.call_args.kwargs
    assert table["key"] == "eval/demo_vqa/predictions"
    assert table["columns"] == ["question_id", "prompt", "prediction", "target"]
    assert table["data"] == [["1", "p", "red", "red"]]


def test_generation_overrides_are_checked(engine, demo_dir):
    spec = get_benchmark("demo_vqa")
    with pytest.raises(ValueError, match="unknown option"):
        evaluate_benchmark(engine, spec, spec.load(demo_dir), limit=1, generation={"beams": 4})
