"""The GPU suite (``pytest -m gpu``; skipped without CUDA): every configuration of
``sphinx_x.runtime.gpu_suite`` (``scripts/benchmark_gpu_strategies.py``) trains a few steps at real SPHINX-Tiny shapes on one GPU
(bf16-mixed + SDPA, FSDP, DeepSpeed ZeRO-2 / ZeRO-3, activation checkpointing on and off, 8-bit AdamW,
QLoRA) with a finite loss, and its peak memory, step time and the planner's prediction are recorded.

Without a GPU, one test still checks that every configuration composes, validates and plans.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from sphinx_x.runtime import gpu_suite as bench

GiB = 1024**3


def test_every_configuration_composes_validates_and_plans(tmp_path, demo_dir):
    from omegaconf import open_dict

    from sphinx_x.runtime.config import validate_config
    from sphinx_x.runtime.memory import model_shape, plan_config

    assert set(bench.CONFIGS) == {"single_bf16_sdpa", "single_bf16_sdpa_no_checkpointing", "fsdp_full_shard",
                                  "fsdp_full_shard_no_checkpointing", "deepspeed_zero2", "deepspeed_zero3",
                                  "adamw_8bit", "qlora_4bit"}
    shape = None
    for name, overrides in bench.CONFIGS.items():
        cfg = bench.compose(bench.base_overrides(str(demo_dir), 8, 2) + overrides, tmp_path / name)
        if cfg.model.llm.quantization:
            with open_dict(cfg):
                cfg.model.llm.name_or_path = str(tmp_path / "base")  # written by the script before training
        validate_config(cfg)
        assert cfg.trainer.precision == "bf16-mixed" and cfg.model.llm.attn_implementation == "sdpa", name
        assert all(not e.get("pretrained") and not e.get("name_or_path")
                   for e in cfg.model.encoders.values() if hasattr(e, "get")), name  # no downloads
        shape = shape or model_shape(cfg.model)
        plan = plan_config(cfg, shape).chosen
        assert 4 * GiB < plan.total < 80 * GiB, (name, plan.total / GiB)
    assert shape.trainable == pytest.approx(1.1e9, rel=0.02)  # TinyLlama-1.1B at its real size


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_suite_trains_every_configuration(tmp_path):
    out = tmp_path / "gpu_strategies.json"
    report = bench.run_suite(list(bench.CONFIGS), steps=8, out=out)
    assert json.loads(out.read_text())["results"].keys() == bench.CONFIGS.keys()
    device_gib = report["device_memory_gib"]
    for name, result in report["results"].items():
        assert result["ok"], f"{name}: {result.get('error')}"
        assert result["steps"] == 8 and all(math.isfinite(x) for x in result["losses"]), name
        assert 0 < result["peak_allocated_gib"] < device_gib and result["step_time_s_median"] > 0, name
        assert result["planned_total_gib"] > 0 and math.isfinite(result["planner_error"]), name
    results = report["results"]
    # what each switch is for, measured: checkpointing and sharding save memory, 8-bit AdamW its states
    assert results["single_bf16_sdpa"]["peak_allocated_gib"] < results["single_bf16_sdpa_no_checkpointing"][
        "peak_allocated_gib"]
    assert results["adamw_8bit"]["peak_allocated_gib"] < results["single_bf16_sdpa"]["peak_allocated_gib"]
    assert results["qlora_4bit"]["peak_allocated_gib"] < results["single_bf16_sdpa"]["peak_allocated_gib"]
