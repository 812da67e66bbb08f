"""Shared fixtures (helpers live in ``tests/testkit``): a small demo world, its tokenizer, composed Hydra
configs, and a PDF corpus with its built ``ocr_pages`` output (engine, reader and CLI tests use both)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig

from sphinx_x.demo.world import build_demo_world
from tests.testkit.configs import compose_config


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


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of PDFs covering the OCR engine's cases (see :func:`tests.testkit.pdfs.build_corpus`)."""
    from tests.testkit.pdfs import build_corpus

    return build_corpus(tmp_path_factory.mktemp("corpus") / "pdfs")


@pytest.fixture(scope="session")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """``corpus`` built into ``ocr_pages`` shards: (output folder, manifest)."""
    from sphinx_x.engines.ocr.pipeline import build
    from tests.testkit.pdfs import CFG

    out = tmp_path_factory.mktemp("built") / "ocr_pages"
    return out, build([corpus], out, CFG, workers=0, progress=False)


@pytest.fixture(scope="module")
def engine(demo_dir: Path, demo_tokenizer, tmp_path_factory: pytest.TempPathFactory):
    """A random-weight inference engine on the demo config (one per test module)."""
    from tests.testkit.inference import random_engine

    return random_engine(demo_dir, demo_tokenizer, tmp_path_factory.mktemp("cfg"))


@pytest.fixture(scope="module")
def image_paths(demo_dir: Path) -> list[Path]:
    """Two held-out demo images."""
    return sorted((demo_dir / "images").glob("heldout_*.png"))[:2]
