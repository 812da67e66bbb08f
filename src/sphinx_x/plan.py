"""``sphinx-x-plan <the same overrides as train>``: GPU memory per device for a training config.

Prints, per strategy, the bytes of weights, gradients, optimizer states and activations per device
(runtime/memory.py says how each is computed), the family's recommended launch (``model.recipe.launch``)
and the cheapest strategy that fits ``plan.gpu_memory_gb``. Exits 1 when the chosen strategy does not fit.

    sphinx-x-plan model=sphinx_moe strategy=deepspeed_zero2 trainer=gpu trainer.devices=8
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, open_dict

from sphinx_x.runtime.config import load_conf_file
from sphinx_x.runtime.memory import GiB, ModelShape, format_report, model_shape, plan_config


def recipe_launch(cfg: DictConfig, shape: ModelShape) -> tuple[str, bool] | None:
    """The family's recommended launch (``model.recipe.launch``) and whether the planner says it fits."""
    launch = cfg.model.recipe.get("launch")
    if not launch:
        return None
    recipe = cfg.copy()
    with open_dict(recipe):
        recipe.strategy = load_conf_file(f"strategy/{launch.strategy}.yaml")
        recipe.trainer.devices, recipe.trainer.num_nodes = int(launch.devices), int(launch.num_nodes)
        recipe.data.micro_batch_size = int(launch.micro_batch_size)
    report = plan_config(recipe, shape)
    fits = report.chosen.fits(report.device_bytes)
    overrides = (f"strategy={launch.strategy} trainer=gpu trainer.devices={launch.devices} "
                 f"trainer.num_nodes={launch.num_nodes} data.micro_batch_size={launch.micro_batch_size}")
    return f"family recipe: {overrides}: {report.chosen.total / GiB:.1f} GiB per device, " + (
        "fits" if fits else "DOES NOT FIT"), fits


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name="plan")
def main(cfg: DictConfig) -> None:
    shape = model_shape(cfg.model)
    report = plan_config(cfg, shape)
    print(format_report(report, shape))
    recipe = recipe_launch(cfg, shape)
    if recipe:
        print(recipe[0])
    if not report.chosen.fits(report.device_bytes):
        print(f"{report.chosen.strategy} does not fit {cfg.plan.gpu_memory_gb} GiB per device "
              f"on {int(cfg.trainer.devices) * int(cfg.trainer.num_nodes)} device(s)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
