"""One run of a study: train, then answer the study's held-out benchmarks at every eval-grid point.

``python -m sphinx_x.experiments.trial study.name=<study> [study.scale=demo] <train overrides>`` (what
``sphinx_x.experiments.run`` launches as a multirun and a wandb sweep agent calls). The config is
``train.yaml`` plus a ``study`` node; ``data.seed`` follows ``seed`` so a study seed changes both the
model's initialisation and the data order. Writes into the run directory, next to the training run:

    eval/<point>/predictions/<benchmark>.jsonl, eval/<point>/scores/<benchmark>.json
    study_result.json   {"study", "scale", "grid", "seed", "train", "evals": [{"options", "scores"}], ...}
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from sphinx_x.eval.benchmarks import get_benchmark
from sphinx_x.eval.loop import evaluate_benchmark, write_outputs
from sphinx_x.evaluate import load_samples
from sphinx_x.experiments.study import (
    GridValue,
    Study,
    StudyError,
    describe_point,
    load_study,
    override_value,
)
from sphinx_x.inference import SphinxInference, resolve_device
from sphinx_x.train import train

log = logging.getLogger(__name__)
CONFIG_NAME = "study_trial"
RESULT_FILE = "study_result.json"
TRAIN_EXTRAS = ("visual_tokens_per_sample", "skipped_tile_fraction", "tokens_per_s")  # last logged values
TRIAL_CONFIG: dict[str, Any] = {
    "defaults": ["train", "_self_"],
    "task_name": "study",
    "data": {"seed": "${seed}"},  # a study seed varies the initialisation and the data order
    # data_dir: what the scale's preparer wrote; eval_limit: null = the scale's (set it for a quick check)
    "study": {"name": "???", "scale": "demo", "root": "${paths.root_dir}/experiments", "data_dir": None,
              "eval_limit": None},
    "benchmark_root": "${oc.env:SPHINX_X_BENCHMARKS,${paths.data_root}/benchmarks}",
    "benchmark_options": {"demo_vqa": {"path": "${paths.demo_dir}"}, "demo_rec": {"path": "${paths.demo_dir}"}},
    "eval_device": "auto",
}


# The demo world by Table 9's groups (data_subsets study; `demo` is all of it). The LLaVA subsets are what
# sphinx_x.experiments.prepare.demo_task_subsets writes into study.data_dir.
DEMO_SUBSETS: dict[str, dict[str, Any]] = {
    "demo_language": {"defaults": ["base", {"source@sources.demo_text": "demo_text"},
                                   {"source@sources.demo_llava_heldout": "demo_llava_heldout"}, "_self_"],
                      "weighting": "explicit", "num_samples": 16000, "micro_batch_size": 8, "num_workers": 1,
                      "val_sources": ["demo_llava_heldout"]},
    "demo_vision": {"defaults": ["demo", "_self_"],
                    "sources": {"demo_llava": {"path": "${study.data_dir}/llava_vision.json"}}},
    "demo_vl": {"defaults": ["demo", "_self_"], "sources": {"demo_llava": {"path": "${study.data_dir}/llava_vl.json"}}},
}


def register_trial_config() -> None:
    """The trial's primary config (train.yaml + the study node) and the demo subsets in Hydra's ConfigStore."""
    store = ConfigStore.instance()
    store.store(name=CONFIG_NAME, node=TRIAL_CONFIG)
    for name, node in DEMO_SUBSETS.items():
        store.store(group="data", name=name, node=node)


register_trial_config()


def compose_trial(overrides: list[str]) -> DictConfig:
    """The trial config composed with ``overrides`` outside a Hydra app (checks keys and group options)."""
    if GlobalHydra.instance().is_initialized():
        return compose(config_name=CONFIG_NAME, overrides=overrides)
    with initialize_config_module(config_module="sphinx_x.conf", version_base="1.3"):
        return compose(config_name=CONFIG_NAME, overrides=overrides)


def check_grid(study: Study, scale: str) -> None:
    """Every grid key and value composes with the scale's overrides; a bad one raises naming it."""
    study = study.at(scale)
    base = [f"study.name={study.name}", *study.scale(scale).overrides]
    try:
        compose_trial(base)
    except (HydraException, OmegaConfBaseException) as error:
        raise StudyError(f"{study.file}: scales.{scale}.overrides do not compose: {error}") from error
    for key, values in study.grid.items():
        for value in values:
            try:
                compose_trial([*base, f"{key}={override_value(value)}"])
            except (HydraException, OmegaConfBaseException) as error:
                raise StudyError(f"{study.file}: grid key {key!r} value {value!r} is not a valid override "
                                 f"of the training config: {error}") from error


def grid_values(cfg: DictConfig, study: Study) -> dict[str, str]:
    """This run's value of every grid key: the group's choice (``model/tiling``) or the config value."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    values = {}
    for key in study.grid:
        value = choices.get(key) if key in choices else OmegaConf.select(cfg, key, default=None)
        values[key] = override_value(value)
    return values


def tag_wandb_logger(cfg: DictConfig, study: Study, values: dict[str, str]) -> None:
    """Group the run under the study and tag it with its grid values and seed (``logger=wandb``)."""
    if cfg.logger.name != "wandb":
        return
    with open_dict(cfg):
        cfg.logger.group = cfg.logger.group or f"study-{study.name}"
        cfg.logger.tags = [*cfg.logger.tags, f"study={study.name}",
                           *(f"{k}={v}" for k, v in values.items()), f"seed={cfg.seed}"]


def evaluate_point(cfg: DictConfig, run_dir: Path, options: dict[str, GridValue],
                   engine: SphinxInference) -> dict[str, dict[str, float]]:
    """Answer every benchmark of the scale with ``options`` (describe_first); scores per benchmark."""
    study = load_study(cfg.study.name, cfg.study.root)
    scale = study.scale(cfg.study.scale)
    out = run_dir / "eval" / point_dir(options)
    limit = cfg.study.eval_limit or scale.eval_limit
    scores: dict[str, dict[str, float]] = {}
    for name in scale.evals:
        spec = get_benchmark(name)
        samples = load_samples(cfg, spec)
        rows, result = evaluate_benchmark(engine, spec, samples, batch_size=scale.eval_batch_size,
                                          describe_first=bool(options.get("describe_first", False)),
                                          describe_max_new_tokens=scale.describe_max_new_tokens,
                                          limit=limit)
        used = samples[:limit] if limit else samples
        write_outputs(out, spec, rows, result, used, info={"checkpoint": str(run_dir), "options": options})
        scores[name] = result
    return scores


def point_dir(options: dict[str, GridValue]) -> str:
    """``{active_experts: 2, describe_first: false}`` -> ``active_experts-2_describe_first-false``
    (``default`` when nothing varies)."""
    return "_".join(f"{k}-{override_value(v)}" for k, v in options.items()) or "default"


def run_trial(cfg: DictConfig, run_dir: str) -> dict[str, Any]:
    """Train, evaluate every eval-grid point, write ``study_result.json``; returns its content."""
    study = load_study(cfg.study.name, cfg.study.root).at(cfg.study.scale)
    values = grid_values(cfg, study)
    tag_wandb_logger(cfg, study, values)
    log.info("study %s: %s seed=%s", study.name, " ".join(f"{k}={v}" for k, v in values.items()), cfg.seed)
    started = time.perf_counter()
    trained = train(cfg, run_dir)
    train_s = time.perf_counter() - started
    device = resolve_device(cfg.eval_device)
    evals, engines = [], {}
    for options in study.eval_points():
        experts = options.get("active_experts")
        if experts not in engines:  # describe_first reuses the engine of the same experts
            engines = {experts: SphinxInference.from_run(run_dir, device=device, active_experts=experts)}
        began = time.perf_counter()
        scores = evaluate_point(cfg, Path(run_dir), options, engines[experts])
        evals.append({"options": options, "point": describe_point(options), "scores": scores,
                      "eval_s": round(time.perf_counter() - began, 1)})
    metrics = trained["metrics"]
    result = {"study": study.name, "scale": cfg.study.scale, "grid": values, "seed": int(cfg.seed),
              "train": {"global_step": trained["global_step"], "train_loss": metrics.get("train/loss"),
                        "val_loss": metrics.get("val/loss"), "train_s": round(train_s, 1),
                        "rejected_total": trained["rejected_total"],
                        **{key: metrics[f"train/{key}"] for key in TRAIN_EXTRAS if f"train/{key}" in metrics}},
              "evals": evals, "wall_s": round(time.perf_counter() - started, 1),
              "metrics_csv": _metrics_csv(Path(run_dir))}
    (Path(run_dir) / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _finish_wandb(cfg, evals)
    return result


def _metrics_csv(run_dir: Path) -> str | None:
    found = sorted(run_dir.glob("csv/version_*/metrics.csv"))
    return str(found[-1].relative_to(run_dir)) if found else None


def _finish_wandb(cfg: DictConfig, evals: list[dict[str, Any]]) -> None:
    """Held-out scores into the run's summary, then close the run (the next job of a multirun opens its own)."""
    if cfg.logger.name != "wandb":
        return
    import wandb

    if wandb.run is not None:
        for point in evals:
            prefix = "eval" if point["point"] == "-" else f"eval[{point['point']}]"
            wandb.run.summary.update({f"{prefix}/{bench}/{key}": value for bench, scores in point["scores"].items()
                                      for key, value in scores.items()})
        wandb.finish()


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> float | None:
    result = run_trial(cfg, HydraConfig.get().runtime.output_dir)
    study = load_study(cfg.study.name, cfg.study.root)
    benchmark, score = study.metric.split("/", 1)
    return result["evals"][0]["scores"].get(benchmark, {}).get(score)


if __name__ == "__main__":
    main()
