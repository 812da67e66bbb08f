"""Evaluate a trained SPHINX-X on benchmarks: ``python -m sphinx_x.evaluate ckpt_path=RUN benchmarks=[...]``.

Per benchmark, writes ``predictions/<name>.jsonl`` and ``scores/<name>.json`` into the Hydra output
dir and logs the scores (and, with ``logger=wandb``, a table of predictions). See sphinx_x/conf/evaluate.yaml.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from sphinx_x.eval.benchmarks import BENCHMARKS, BenchmarkSpec, EvalSample, get_benchmark
from sphinx_x.eval.judge import Judge, JudgeConfig, not_configured_message
from sphinx_x.eval.loop import evaluate_benchmark, write_outputs
from sphinx_x.inference import SphinxInference, resolve_device
from sphinx_x.runtime.config import ConfigError, checked_build
from sphinx_x.runtime.trainer import build_logger

log = logging.getLogger(__name__)
TABLE_COLUMNS = ("question_id", "prompt", "prediction", "target")


def load_samples(cfg: DictConfig, spec: BenchmarkSpec) -> list[EvalSample]:
    """The benchmark's samples from ``benchmark_options.<name>.path`` or ``<benchmark_root>/<name>``."""
    given = (cfg.get("benchmark_options") or {}).get(spec.name)
    options: dict[str, Any] = OmegaConf.to_container(given, resolve=True) if given else {}  # type: ignore[assignment]
    path = options.pop("path", None) or Path(cfg.benchmark_root) / spec.name
    return spec.load(path, split=options.pop("split", None), image_root=options.pop("image_root", None), **options)


def validate_eval_config(cfg: DictConfig) -> list[BenchmarkSpec]:
    """Fail before loading the model: name the field and the allowed values."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path: required (a training run folder, a .ckpt inside one, or an exported folder)")
    if not Path(cfg.ckpt_path).exists():
        raise ConfigError(f"ckpt_path: {cfg.ckpt_path} does not exist")
    if not cfg.benchmarks:
        raise ConfigError(f"benchmarks: empty; choose from {sorted(BENCHMARKS)}")
    unknown = [name for name in cfg.benchmarks if name not in BENCHMARKS]
    if unknown:
        raise ConfigError(f"benchmarks: unknown {unknown}; choose from {sorted(BENCHMARKS)}")
    if int(cfg.batch_size) < 1:
        raise ConfigError(f"batch_size: must be >= 1, got {cfg.batch_size}")
    if cfg.limit is not None and int(cfg.limit) < 1:
        raise ConfigError(f"limit: must be null or >= 1, got {cfg.limit}")
    judge = judge_config(cfg)
    needing = [name for name in cfg.benchmarks if get_benchmark(name).judge == "required"]
    if needing and not judge.configured:
        raise ConfigError(f"judge.base_url, judge.model: {not_configured_message(', '.join(needing))}")
    for name in cfg.get("scoring") or {}:  # build each metric with its options: fail here, not after answering
        checked_build(f"scoring.{name}", lambda name=name: get_benchmark(name).metric(
            **scoring_options(cfg, name), **judge_option(get_benchmark(name), judge)))
    return [get_benchmark(name) for name in cfg.benchmarks]


def scoring_options(cfg: DictConfig, benchmark: str) -> dict[str, Any]:
    """Scorer options of one benchmark from ``scoring.<name>`` (e.g. ``{mode: official}`` for VQAv2)."""
    return _plain((cfg.get("scoring") or {}).get(benchmark)) or {}


def judge_config(cfg: DictConfig) -> JudgeConfig:
    """``judge.*`` (the judge model for mmvet, llava_bench and mathvista's answer extraction)."""
    return checked_build("judge", lambda: JudgeConfig.from_mapping(_plain(cfg.get("judge"))))


def judge_option(spec: BenchmarkSpec, judge: Judge | JudgeConfig | None) -> dict[str, Any]:
    """``{"judge": ...}`` for the metric of a benchmark that uses one, else nothing."""
    return {"judge": judge} if spec.judge != "none" and judge is not None else {}


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def evaluate(cfg: DictConfig, output_dir: str) -> dict[str, dict[str, float]]:
    """Answer and score every benchmark of ``cfg``; returns {benchmark: scores}."""
    specs = validate_eval_config(cfg)
    L.seed_everything(int(cfg.seed))
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True) if cfg.get("model") else None
    engine = SphinxInference.from_run(cfg.ckpt_path, device=resolve_device(cfg.device), model_config=model_cfg,
                                      active_experts=cfg.get("active_experts"), keep_experts=_plain(cfg.get("keep_experts")))
    logger = build_logger(cfg, output_dir, f"{cfg.task_name}-{Path(cfg.ckpt_path).name}")
    logger.log_hyperparams({"ckpt_path": str(cfg.ckpt_path), "benchmarks": list(cfg.benchmarks),
                            "generation": OmegaConf.to_container(cfg.generation, resolve=True),
                            "describe_first": bool(cfg.describe_first), "limit": cfg.limit})
    generation = OmegaConf.to_container(cfg.generation, resolve=True)
    judge_cfg = judge_config(cfg)
    judge = Judge(judge_cfg) if judge_cfg.configured and any(s.judge != "none" for s in specs) else None
    results: dict[str, dict[str, float]] = {}
    for spec in specs:
        samples = load_samples(cfg, spec)
        rejects: list[dict[str, Any]] = []
        rows, scores = evaluate_benchmark(
            engine, spec, samples, batch_size=int(cfg.batch_size), generation=generation,  # type: ignore[arg-type]
            describe_first=bool(cfg.describe_first), limit=cfg.limit,
            describe_max_new_tokens=int(cfg.describe_max_new_tokens), rejects=rejects,
            scoring={**scoring_options(cfg, spec.name), **judge_option(spec, judge or judge_cfg)})
        used = samples[: cfg.limit] if cfg.limit else samples
        info = {"checkpoint": str(cfg.ckpt_path), "limit": cfg.limit, "describe_first": bool(cfg.describe_first)}
        if judge is not None and spec.judge != "none":
            info["judge"] = judge.report()  # counts so far in this run, and every failure with its reason
        paths = write_outputs(output_dir, spec, rows, scores, used, rejects=rejects, info=info)
        log_results(logger, spec.name, rows, scores)
        log.info("%s: %s -> %s", spec.name, _summary(scores), paths["scores"])
        results[spec.name] = scores
    logger.finalize("success")
    return results


def log_results(logger: Logger, name: str, rows: list[dict[str, Any]], scores: dict[str, float]) -> None:
    """Scores as ``eval/<name>/<score>``; with wandb also the predictions as a table."""
    logger.log_metrics({f"eval/{name}/{key}": value for key, value in scores.items()}, step=0)
    if isinstance(logger, WandbLogger):
        data = [[str(row.get(column, "")) for column in TABLE_COLUMNS] for row in rows]
        logger.log_table(key=f"eval/{name}/predictions", columns=list(TABLE_COLUMNS), data=data)
    logger.save()


def _summary(scores: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in scores.items() if "[" not in k)


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    results = evaluate(cfg, HydraConfig.get().runtime.output_dir)
    first = next(iter(results.values()), {})
    return next((v for k, v in first.items() if not k.startswith("n_")), None)


if __name__ == "__main__":
    main()
