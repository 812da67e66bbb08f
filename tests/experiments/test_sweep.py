"""wandb sweeps from a study's grid: sweep.yaml names the same grid and seeds as study.yaml, its command
(as a wandb agent expands it) composes each grid point's training config, and a run logs offline to
Weights & Biases grouped per study and tagged with its grid values, without an API key."""

from __future__ import annotations

from pathlib import Path

import yaml
from omegaconf import open_dict
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from sphinx_x.experiments.study import DEFAULT_ROOT, load_study, override_value
from sphinx_x.experiments.sweep import main, sweep_config, write_sweep
from sphinx_x.experiments.trial import _finish_wandb, grid_values, tag_wandb_logger
from sphinx_x.runtime.trainer import build_logger
from tests.testkit.configs import compose_config
from tests.testkit.paths import REPO
from tests.testkit.studies import write_study

COMMITTED = ("resolution", "encoders", "skip_tokens", "prompts", "active_experts", "describe_first", "data_subsets")


def agent_command(sweep: dict, values: dict) -> list[str]:
    """The command a wandb agent runs for one parameter set (wandb's own macro expansion of the args)."""
    args = create_sweep_command_args({"args": {k: {"value": v} for k, v in values.items()}})["args_no_hyphens"]
    command = []
    for item in sweep["command"]:
        command += args if item == "${args_no_hyphens}" else [item]
    return command


def test_sweep_yaml_names_the_study_grid_and_seeds(tmp_path):
    folder = write_study(tmp_path, grid={"model/tiling": ["grid448", "grid672"], "data.prompts.fixed": [True, False]},
                         seeds=[3, 4, 5])
    assert main(["tiny", "--root", str(tmp_path)]) == 0
    sweep = yaml.safe_load((folder / "sweep.yaml").read_text())
    study = load_study("tiny", tmp_path)
    assert sweep["method"] == "grid"
    assert sweep["parameters"] == {"model/tiling": {"values": ["grid448", "grid672"]},
                                   "data.prompts.fixed": {"values": [True, False]}, "seed": {"values": [3, 4, 5]}}
    assert {k: tuple(v["values"]) for k, v in sweep["parameters"].items() if k != "seed"} == study.grid
    assert sweep["command"][:4] == ["${env}", "${interpreter}", "-m", "sphinx_x.experiments.trial"]
    assert sweep["command"][-1] == "${args_no_hyphens}" and "logger=wandb" in sweep["command"]
    assert "study.name=tiny" in sweep["command"] and "trainer.max_steps=2" in sweep["command"]
    assert sweep["metric"] == {"name": "eval/demo_vqa/accuracy", "goal": "maximize"}


def test_every_agent_command_composes_its_grid_point(tmp_path):
    folder = write_study(tmp_path, grid={"model/tiling": ["grid448", "grid672"], "data.prompts.fixed": [True, False]})
    study = load_study("tiny", folder.parent)
    sweep = yaml.safe_load(write_sweep(study, root=folder.parent, out=tmp_path / "runs").read_text())
    for point, seed in study.runs():
        command = agent_command(sweep, {**point, "seed": seed})
        assert f"hydra.run.dir={tmp_path / 'runs'}/tiny/demo_sweep/${{oc.env:WANDB_RUN_ID,local}}" in command
        overrides = [o for o in command[4:] if not o.startswith("hydra.run.dir=")]  # compose_config sets its own
        cfg = compose_config([*overrides, f"study.root={folder.parent}"], tmp_path / "job", config_name="study_trial")
        assert grid_values(cfg, study) == {k: override_value(v) for k, v in point.items()}
        assert (cfg.seed, cfg.data.seed, cfg.logger.name) == (seed, seed, "wandb")
        assert cfg.model.tiling.grid == {"grid448": 2, "grid672": 3}[point["model/tiling"]]


def test_committed_sweep_files_match_their_studies():
    root = REPO / "experiments"
    for name in COMMITTED:
        study = load_study(name, root).at("demo")
        committed = yaml.safe_load((root / name / "sweep.yaml").read_text())
        assert committed == sweep_config(study, "demo", DEFAULT_ROOT, Path("runs/experiments")), name
        params = committed["parameters"]
        assert {k: tuple(v["values"]) for k, v in params.items() if k != "seed"} == study.grid, name
        assert tuple(params["seed"]["values"]) == study.seeds, name
        assert not any(str(item).startswith("/") or "study.root=" in str(item) for item in committed["command"]), name


def test_a_run_logs_offline_grouped_and_tagged_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    write_study(tmp_path)
    study = load_study("tiny", tmp_path)
    cfg = compose_config(["study.name=tiny", f"study.root={tmp_path}", "experiment=demo", "model/tiling=grid672",
                          "seed=1", "logger=wandb"], tmp_path / "job", config_name="study_trial")
    values = grid_values(cfg, study)
    assert values == {"model/tiling": "grid672"}
    tag_wandb_logger(cfg, study, values)
    assert cfg.logger.group == "study-tiny"
    assert list(cfg.logger.tags) == ["study=tiny", "model/tiling=grid672", "seed=1"]
    with open_dict(cfg):
        cfg.logger.project = "sphinx-x-test"
    logger = build_logger(cfg, str(tmp_path / "job"), "study-tiny")
    run = logger.experiment
    import wandb

    assert run.settings._offline and wandb.run is run  # WANDB_MODE=offline: wandb calls the mode "dryrun"
    assert run.group == "study-tiny" and list(run.tags) == ["study=tiny", "model/tiling=grid672", "seed=1"]
    _finish_wandb(cfg, [{"point": "-", "scores": {"demo_vqa": {"accuracy": 0.5}}}])
    assert wandb.run is None  # closed: the next job of a multirun opens its own run
    offline_runs = list((tmp_path / "job").glob("wandb/offline-run-*/run-*.wandb"))
    assert len(offline_runs) == 1 and offline_runs[0].stat().st_size > 0
