"""Tiny released checkpoints of every SPHINX type, written once per session, and their conversions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.testkit.accessory import TINY_OVERRIDES, train_tokenizer, write_release


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentencepiece tokenizer.model shaped like LLaMA's."""
    return train_tokenizer(tmp_path_factory.mktemp("spm") / "tokenizer.model")


@pytest.fixture(scope="session")
def release(spm_model: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Callable[[str], tuple[Path, dict[str, torch.Tensor]]]:
    """type -> (a tiny checkpoint folder split into 2 model-parallel shards, its full tensors)."""
    made: dict[str, tuple[Path, dict[str, torch.Tensor]]] = {}

    def make(type_name: str) -> tuple[Path, dict[str, torch.Tensor]]:
        if type_name not in made:
            folder = tmp_path_factory.mktemp(f"release_{type_name}")
            made[type_name] = folder, write_release(folder, type_name, spm_model, ranks=2, seed=len(made))
        return made[type_name]

    return make


@pytest.fixture(scope="session")
def converted(release, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """type -> the export folder sphinx-x-convert-accessory writes for the tiny checkpoint."""
    from sphinx_x.convert.accessory import convert_accessory

    made: dict[str, Path] = {}

    def make(type_name: str) -> Path:
        if type_name not in made:
            src, _ = release(type_name)
            out = tmp_path_factory.mktemp(f"converted_{type_name}")
            convert_accessory(src, out, type_name, TINY_OVERRIDES[type_name])
            made[type_name] = out
        return made[type_name]

    return make
