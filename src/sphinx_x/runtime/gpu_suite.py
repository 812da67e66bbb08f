"""GPU strategies at real SPHINX-Tiny shapes: peak memory and step time per configuration, next to the
memory planner's prediction.

    python scripts/benchmark_gpu_strategies.py [--steps 8] [--only fsdp_full_shard ...]
    (the same as: python -m sphinx_x.runtime.gpu_suite ...)

Random TinyLlama-1.1B + random ConvNeXt-XXL and DINOv2-g built from the family's configs (no downloads),
the demo world's images and conversations (built on first use), the demo tokenizer, one GPU. Each
configuration trains in its own process (fresh CUDA state, its own process group) and reports:
peak allocated / reserved memory, median step time after the warm-up steps, the last loss, and the
planner's total for that configuration (``sphinx_x.runtime.memory.plan_config``) with its relative error.
Writes ``experiments/benchmarks/gpu_strategies_<device>.json`` with the command. ``tests/gpu/`` runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GiB = 1024**3
LORA = "model.llm.lora={r:16,alpha:32,dropout:0.05,target_modules:[q_proj,k_proj,v_proj,o_proj]}"
# name -> Hydra overrides over BASE (bf16-mixed, SDPA attention, activation checkpointing on, AdamW)
CONFIGS: dict[str, list[str]] = {
    "single_bf16_sdpa": [],
    "single_bf16_sdpa_no_checkpointing": ["model.llm.gradient_checkpointing=false"],
    "fsdp_full_shard": ["strategy=fsdp"],
    "fsdp_full_shard_no_checkpointing": ["strategy=fsdp", "strategy.activation_checkpointing=false",
                                         "model.llm.gradient_checkpointing=false"],
    "deepspeed_zero2": ["strategy=deepspeed_zero2"],
    "deepspeed_zero3": ["strategy=deepspeed_zero3"],
    "adamw_8bit": ["optim.name=adamw_8bit"],
    "qlora_4bit": [LORA, "model.llm.quantization=4bit"],  # base saved to a folder first, loaded through bitsandbytes
}


def base_overrides(demo_dir: str, steps: int, micro_batch: int) -> list[str]:
    """The overrides every configuration shares: SPHINX-Tiny shapes, bf16, one GPU, the demo world."""
    return ["experiment=demo", "model=sphinx_tiny", "trainer=gpu", "trainer.devices=1", "strategy=single_device",
            f"paths.demo_dir={demo_dir}", "demo_world={n_train:64,n_heldout:8,seed:0}",
            "model.tokenizer=${paths.demo_dir}/tokenizer", "model.llm.name_or_path=null",
            "data.num_workers=2", f"data.num_samples={max(64, 4 * steps * micro_batch)}",
            f"data.micro_batch_size={micro_batch}", f"global_batch_size={micro_batch}", f"trainer.max_steps={steps}",
            "trainer.val_check_interval=null", "callbacks.benchmark_validation=null", "trainer.log_every_n_steps=1",
            "trainer.enable_progress_bar=false", "callbacks.checkpoint.save_last=false",
            "callbacks.checkpoint.every_n_train_steps=1000000", "plan.check=false", "logger.name=csv"]


def compose(overrides: list[str], output_dir: Path) -> Any:
    """The training config as the command line composes it, with random-init encoders (their pretrained
    weights switched off) and Hydra's runtime output dir set."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    from sphinx_x.runtime.config import CONF_PACKAGE

    GlobalHydra.instance().clear()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = hydra_compose("train", overrides=[*overrides, f"hydra.run.dir={output_dir}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
        for expert in cfg.model.encoders.values():
            if OmegaConf.is_dict(expert):
                for key in ("pretrained", "name_or_path"):
                    if key in expert:
                        expert[key] = None
    return cfg


def save_random_base(cfg: Any, folder: Path) -> str:
    """The random TinyLlama saved as a checkpoint folder (k-bit loading needs one)."""
    from omegaconf import OmegaConf

    from sphinx_x.model.llm import build_llm

    llm_cfg = OmegaConf.to_container(cfg.model.llm, resolve=True)
    llm = build_llm(name_or_path=None, config=llm_cfg["config"], model_type=llm_cfg["model_type"], dtype="bfloat16")
    llm.save_pretrained(folder)
    return str(folder)


def run_one(name: str, steps: int, micro_batch: int, warmup: int, demo_dir: str) -> dict[str, Any]:
    """Train configuration ``name`` in this process; peak memory, step times, loss and the plan."""
    import lightning as L
    import torch
    from omegaconf import open_dict

    import sphinx_x.train
    from sphinx_x.runtime.memory import plan_config

    class Timer(L.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.losses: list[float] = []
            self._start = 0.0

        def on_train_batch_start(self, *args: Any) -> None:
            torch.cuda.synchronize()
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
            torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._start)
            self.losses.append(float(trainer.callback_metrics.get("train/loss", float("nan"))))

    out = Path(tempfile.mkdtemp(prefix=f"gpu_{name}_"))
    cfg = compose(base_overrides(demo_dir, steps, micro_batch) + CONFIGS[name], out)
    if cfg.model.llm.quantization:
        base = save_random_base(cfg, out / "random_tinyllama")
        with open_dict(cfg):
            cfg.model.llm.name_or_path = base
    plan = plan_config(cfg).chosen
    timer = Timer()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = sphinx_x.train.train(cfg, str(out), callbacks=[timer])
    measured = torch.cuda.max_memory_allocated()
    timed = timer.times[warmup:] or timer.times
    return {
        "name": name, "overrides": CONFIGS[name], "steps": result["global_step"],
        "strategy": str(cfg.strategy.name), "precision": str(cfg.trainer.precision),
        "attn_implementation": cfg.model.llm.attn_implementation,
        "activation_checkpointing": bool(cfg.model.llm.gradient_checkpointing)
        or bool(cfg.strategy.get("activation_checkpointing")),
        "optimizer": str(cfg.optim.name), "lora": cfg.model.llm.lora is not None,
        "quantization": cfg.model.llm.quantization, "micro_batch_size": micro_batch,
        "peak_allocated_gib": round(measured / GiB, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GiB, 3),
        "step_time_s_median": round(statistics.median(timed), 4), "step_times_s": [round(t, 4) for t in timer.times],
        "losses": timer.losses, "wall_s": round(time.perf_counter() - started, 1),
        "planned_total_gib": round(plan.total / GiB, 3), "planned_strategy": plan.strategy,
        "planner_error": round((plan.total - measured) / measured, 3),  # (planned - measured) / measured
    }


def run_suite(names: list[str], steps: int = 8, micro_batch: int = 2, warmup: int = 3,
              out: Path | None = None, demo_dir: str | None = None, timeout_s: int = 1800) -> dict[str, Any]:
    """Each configuration in a subprocess; the report (also written to ``out``)."""
    import torch

    device = torch.cuda.get_device_name(0)
    demo_dir = demo_dir or str(Path(tempfile.gettempdir()) / "sphinx_x_gpu_demo")
    results: dict[str, Any] = {}
    for name in names:
        cmd = [sys.executable, "-m", "sphinx_x.runtime.gpu_suite", "--one", name, "--steps", str(steps), "--micro-batch", str(micro_batch),
               "--warmup", str(warmup), "--demo-dir", demo_dir]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode == 0 and lines:
            results[name] = {"ok": True, **json.loads(lines[-1].removeprefix("RESULT "))}
        else:
            results[name] = {"ok": False, "returncode": done.returncode, "error": done.stderr[-4000:]}
        print(name, json.dumps({k: results[name].get(k) for k in (
            "ok", "peak_allocated_gib", "planned_total_gib", "planner_error", "step_time_s_median")}), flush=True)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if sys.argv[0].endswith(".py")
        else f"python scripts/benchmark_gpu_strategies.py --steps {steps}",
        "device": device, "device_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / GiB, 1),
        "torch": torch.__version__, "model": "sphinx_tiny (random TinyLlama-1.1B, ConvNeXt-XXL, DINOv2-g)",
        "steps": steps, "warmup_steps": warmup, "micro_batch_size": micro_batch,
        "notes": "peak = torch.cuda.max_memory_allocated; planner_error = (planned - measured) / measured",
        "results": results,
    }
    out = out or Path("experiments") / "benchmarks" / f"gpu_strategies_{device_slug(device)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def device_slug(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'nvidia_h100_80gb_hbm3' (the results file's suffix)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="configurations (default: all)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3, help="first micro-batches left out of the step time")
    parser.add_argument("--micro-batch", type=int, default=2)
    parser.add_argument("--demo-dir", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--one", choices=sorted(CONFIGS), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.one:
        result = run_one(args.one, args.steps, args.micro_batch, args.warmup, args.demo_dir)
        if not all(math.isfinite(x) for x in result["losses"]):
            raise SystemExit(f"{args.one}: non-finite loss {result['losses']}")
        print("RESULT " + json.dumps(result), flush=True)
        return
    run_suite(args.only or list(CONFIGS), args.steps, args.micro_batch, args.warmup, args.out, args.demo_dir)


if __name__ == "__main__":
    main()
