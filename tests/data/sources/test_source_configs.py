"""The dataset configs and the language / vision / vl / all mixtures compose and name real readers."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sphinx_x.data.records import RejectLog
from sphinx_x.data.sources import READERS
from sphinx_x.data.sources.base import GROUPS, load_source
from tests.testkit.files import write_json
from tests.testkit.sources import CONF, PROMPTS, SOURCE_CONFIGS, load_spec

MIXTURES = {"language": "language", "vision": "vision", "vl": "vl"}
# Readers whose instruction is the pool named by the config's `task`.
PROMPTED_READERS = {"imagenet", "coco_keypoints", "coco_captions", "vqa_v2", "gqa", "clevr", "textvqa", "vg_qa",
                    "docvqa", "chartqa", "dvqa", "visualmrc", "due", "ai2d", "geometry3k"}
# The OCR group (Table 9): the engine's PDF pages and every public layout / scene-text set with a reader.
OCR_SOURCES = ["pdf_ocr", "publaynet", "doclaynet", "m6doc", "docbank", "icdar2013", "icdar2015", "totaltext",
               "ctw1500"]
# The Set-of-Mark group (Table 9), built by sphinx-x-build-som.
SOM_SOURCES = ["som_natural", "som_screen", "som_text", "som_document", "multipanel"]


def mixture_sources(name: str) -> list[str]:
    defaults = OmegaConf.load(CONF / "data" / f"{name}.yaml").defaults
    return [value for entry in defaults if OmegaConf.is_dict(entry)
            for key, value in entry.items() if str(key).startswith("source@sources.")]


def compose_mixture(name: str):
    with initialize_config_dir(config_dir=str(CONF / "data"), version_base="1.3"):
        return compose(config_name=name)


OWN_SOURCES = [(group, source) for group in MIXTURES for source in mixture_sources(group)]


@pytest.mark.parametrize(("group", "name"), OWN_SOURCES, ids=[s for _, s in OWN_SOURCES])
def test_dataset_config_names_a_registered_reader_and_its_mixture_group(tmp_path, group, name):
    spec = load_spec(name, tmp_path)

    assert spec.name == name == (SOURCE_CONFIGS / f"{name}.yaml").stem
    assert spec.reader in READERS
    assert spec.group in GROUPS and spec.group == MIXTURES[group]
    assert spec.size is None or spec.size > 0
    assert spec.path.startswith(str(tmp_path))
    if spec.reader in PROMPTED_READERS:
        assert spec.task in PROMPTS.pools


@pytest.mark.parametrize("name", [*MIXTURES, "all"])
def test_mixture_composes_with_every_source_under_its_own_name(tmp_path, name):
    cfg = compose_mixture(name)
    expected = mixture_sources(name)

    assert list(cfg.sources) == expected
    resolved = OmegaConf.to_container(
        OmegaConf.create({"paths": {"data_root": str(tmp_path)}, "sources": cfg.sources}).sources, resolve=True)
    for key, source in resolved.items():
        assert source["name"] == key
        assert source["path"].startswith(str(tmp_path))
    assert cfg.weighting == "size"


def test_all_is_the_three_groups_plus_every_ocr_source():
    groups = [s for mixture in MIXTURES for s in mixture_sources(mixture)]
    assert sorted(mixture_sources("ocr")) == sorted(OCR_SOURCES)
    assert mixture_sources("som") == SOM_SOURCES
    assert mixture_sources("all") == [*groups, *OCR_SOURCES, *SOM_SOURCES]
    assert len(set(groups)) == len(groups)


def test_load_source_keeps_valid_records_and_logs_rejects_with_reasons(tmp_path):
    write_json(tmp_path / "clevr" / "questions.json", {"questions": [
        {"image_filename": "a.png", "question_index": 0, "question": "Is it red?", "answer": "yes"},
        {"image_filename": "a.png", "question_index": 1, "question": "How many?", "answer": " "},
        ["not", "an", "object"]]})
    spec = load_spec("clevr", tmp_path)
    spec.path = str(tmp_path / "clevr" / "questions.json")
    rejects = RejectLog(tmp_path / "rejects.jsonl")

    records = load_source(spec, PROMPTS, rejects)

    assert [r["id"] for r in records] == ["clevr/a.png/vqa/0"]
    assert rejects.counts == {("clevr", "empty_answer"): 1, ("clevr", "malformed_item"): 1}
    assert (tmp_path / "rejects.jsonl").read_text().count("\n") == 2
