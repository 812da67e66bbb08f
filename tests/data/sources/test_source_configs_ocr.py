"""The OCR source configs and the ``data=ocr`` mixture compose and name registered readers."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from sphinx_x.data.sources import READERS, SourceSpec
from sphinx_x.runtime.config import CONF_PACKAGE, load_conf_file

OCR_SOURCES = ["pdf_ocr", "publaynet", "doclaynet", "m6doc", "docbank", "icdar2013", "icdar2015", "totaltext",
               "ctw1500"]


def test_each_source_config_builds_a_spec() -> None:
    for name in OCR_SOURCES:
        cfg = load_conf_file(f"data/source/{name}.yaml")
        cfg = OmegaConf.merge({"paths": {"data_root": "/data"}}, {"src": cfg})
        spec = SourceSpec(**OmegaConf.to_container(cfg.src, resolve=True))
        assert spec.name == name and spec.group == "ocr" and spec.reader in READERS
        assert spec.path.startswith("/data/") and spec.size


def test_ocr_mixture_composes(tmp_path: Path) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=["data=ocr", "paths.data_root=/datasets"])
    sources = cfg.data.sources
    assert list(sources) == OCR_SOURCES
    assert sources.publaynet.path == "/datasets/publaynet/train.json"
    assert sources.pdf_ocr.reader == "ocr_pages" and sources.docbank.task == "layout"
    GlobalHydra.instance().clear()
