"""Shared fixtures: a small demo world, its tokenizer, and composed Hydra configs (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from sphinx_x.demo.world import build_demo_world
from sphinx_x.runtime.config import CONF_PACKAGE


@pytest.fixture(scope="module")
def one_thread():
    """Tiny matrices: one torch thread is much faster than two when another job shares the CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_world")
    build_demo_world(out, n_train=40, n_heldout=8, seed=0)
    return out


@pytest.fixture(scope="session")
def demo_tokenizer(demo_dir: Path):
    from sphinx_x.data.tokenize import load_tokenizer

    return load_tokenizer(str(demo_dir / "tokenizer"))


def compose_config(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    """Compose like the command line would, with Hydra's runtime fields set to ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name, overrides=[*overrides, f"hydra.run.dir={output_dir}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: the task sees its config without the hydra node
    return cfg


@pytest.fixture
def demo_config(tmp_path: Path, demo_dir: Path):
    """A factory: the demo experiment on the small demo world, CPU, no workers."""

    def make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        out = output_dir or tmp_path / "run"
        return compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null",
                               "data.num_workers=0", "data.num_samples=64", "data.micro_batch_size=4",
                               "global_batch_size=4", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
                               "trainer.val_check_interval=null", "callbacks.benchmark_validation=null",
                               *overrides], out)

    return make
