"""The memory planner: DeepSpeed's own estimators, activations by hand, the MoE recipe, the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
from omegaconf import open_dict

from sphinx_x.plan import recipe_launch
from sphinx_x.runtime.memory import (
    GiB,
    ModelShape,
    activation_bytes,
    check_fits,
    model_shape,
    plan_config,
    plan_strategy,
)
from tests.testkit.configs import compose_config

# All parameters trainable, bf16: what DeepSpeed's estimators assume.
DENSE = ModelShape(trainable=7_000_000_000, trainable_bytes=14_000_000_000, frozen=0, frozen_bytes=0,
                   largest_layer=200_000_000, hidden=4096, kv_hidden=1024, intermediate=11008, layers=32, heads=32,
                   vocab=32000, active_experts=1)


def _states(plan) -> int:
    return plan.weights + plan.gradients + plan.optimizer


@pytest.mark.parametrize("gpus", [1, 8, 64])
def test_deepspeed_model_states_equal_deepspeeds_own_estimators(gpus):
    p, layer = DENSE.trainable, DENSE.largest_layer
    zero2 = {"name": "deepspeed", "stage": 2}
    zero3 = {"name": "deepspeed", "stage": 3}
    assert _states(plan_strategy(DENSE, zero2, gpus, 0, 0)) == pytest.approx(
        estimate_zero2_model_states_mem_needs(p, gpus, 1, cpu_offload=False)[1], abs=8)
    assert _states(plan_strategy(DENSE, {**zero2, "offload_optimizer": True}, gpus, 0, 0)) == (
        estimate_zero2_model_states_mem_needs(p, gpus, 1, cpu_offload=True)[1])
    assert _states(plan_strategy(DENSE, zero3, gpus, 0, 0)) == pytest.approx(
        estimate_zero3_model_states_mem_needs(p, layer, gpus, 1, cpu_offload=False)[1], abs=8)
    assert _states(plan_strategy(DENSE, {**zero3, "offload_optimizer": True}, gpus, 0, 0)) == pytest.approx(
        estimate_zero3_model_states_mem_needs(p, layer, gpus, 1, cpu_offload=True, cpu_offload_params=False)[1], abs=8)
    assert _states(plan_strategy(DENSE, {**zero3, "offload_optimizer": True, "offload_parameters": True}, gpus, 0, 0)) == (
        estimate_zero3_model_states_mem_needs(p, layer, gpus, 1, cpu_offload=True, cpu_offload_params=True)[1])


def test_torch_optimizer_strategies_by_hand():
    ddp = plan_strategy(DENSE, {"name": "ddp"}, 8, activations=5, overhead=7)
    assert (ddp.weights, ddp.gradients, ddp.optimizer) == (14e9, 28e9, 28e9)  # bf16 weights, grads + bucket, 2 states
    full = plan_strategy(DENSE, {"name": "fsdp", "sharding_strategy": "FULL_SHARD"}, 8, 5, 7)
    assert (full.weights, full.gradients, full.optimizer) == (14e9 // 8 + 2 * 400_000_000, 14e9 // 8, 28e9 // 8)
    assert full.total == _states(full) + 12
    eight_bit = plan_strategy(DENSE, {"name": "ddp"}, 1, 0, 0, optimizer="adamw_8bit")
    assert eight_bit.optimizer == 2 * DENSE.trainable and eight_bit.gradients == 14e9  # one process: no bucket copy


def test_activations_by_hand():
    tiny = ModelShape(trainable=1, trainable_bytes=2, frozen=0, frozen_bytes=0, largest_layer=1, hidden=8,
                      kv_hidden=4, intermediate=16, layers=3, heads=2, vocab=100, active_experts=2)
    per_token_layer = 5 * 8 + 2 * 4 + 4 * 16 * 2  # 176 values
    tokens = 2 * 10
    logits = 10 * tokens * 100
    assert activation_bytes(tiny, 2, 10, checkpointing=False, sdpa=True) == 2 * tokens * per_token_layer * 3 + logits
    assert activation_bytes(tiny, 2, 10, checkpointing=False, sdpa=False) == (
        2 * tokens * (per_token_layer + 2 * 10) * 3 + logits)
    assert activation_bytes(tiny, 2, 10, checkpointing=True, sdpa=True) == (
        2 * tokens * 8 * 3 + 2 * tokens * per_token_layer + logits)


@pytest.fixture(scope="module")
def moe(tmp_path_factory):
    cfg = compose_config(["model=sphinx_moe", "strategy=deepspeed_zero2", "trainer=gpu", "trainer.devices=8"],
                         tmp_path_factory.mktemp("plan"), config_name="plan")
    return cfg, model_shape(cfg.model)


def test_moe_with_zero2_does_not_fit_but_its_recipe_does(moe):
    cfg, shape = moe
    assert shape.trainable == pytest.approx(46.70e9, rel=2e-3) and shape.active_experts == 2
    report = plan_config(cfg, shape)
    assert report.chosen.strategy == "deepspeed_zero2" and not report.chosen.fits(report.device_bytes)
    assert report.chosen.weights > 80 * GiB  # ~93 GB of bf16 weights replicated on every GPU
    line, fits = recipe_launch(cfg, shape)
    assert fits and "strategy=fsdp" in line and "fits" in line
    with open_dict(cfg):
        cfg.plan.check = True
    with pytest.raises(MemoryError, match=r"strategy: deepspeed_zero2 needs about \d+\.\d GiB per device, more than "
                                          r"plan.gpu_memory_gb=80; try strategy fsdp_FULL_SHARD"):
        check_fits(cfg, shape)


def test_no_check_on_cpu_or_when_switched_off(tmp_path):
    cfg = compose_config(["experiment=demo"], tmp_path, config_name="plan")
    assert check_fits(cfg) is None  # CPU training: nothing to plan
    with open_dict(cfg):
        cfg.trainer.accelerator, cfg.plan.check = "gpu", False
    assert check_fits(cfg) is None


def test_cli_exits_nonzero_and_says_why(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sphinx_x.plan", "model=sphinx_tiny", "trainer=gpu",
                           "trainer.devices=1", "plan.gpu_memory_gb=12"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "chosen single_device" in done.stdout
    assert "cheapest strategy that fits: deepspeed_zero3+offload_optimizer+offload_parameters" in done.stdout
    assert "single_device does not fit 12 GiB per device on 1 device(s)" in done.stderr
    assert "family recipe: strategy=deepspeed_zero2 trainer=gpu trainer.devices=8" in done.stdout
    assert not list(tmp_path.iterdir())  # no output folder, no log file
