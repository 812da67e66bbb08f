"""The ``som_shards`` reader on the engine's output, through the real ``som_*`` / ``multipanel`` configs, and
reader Records (scene text with polygons) turned into marks for the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sphinx_x.engines.api_client import ApiConfig
from sphinx_x.engines.som.config import SomConfig
from sphinx_x.engines.som.inputs import coco_items, source_items
from sphinx_x.engines.som.pipeline import build
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.som import write_coco
from tests.testkit.sources import PROMPTS, load_spec, read


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    coco, images = write_coco(root / "coco", n=3)
    with fake_vlm() as fake:
        api = ApiConfig(fake.url, "fake", backoff=0.01, requests_per_minute=1e9)
        build(coco_items(coco, images, "natural", "coco"), root / "som" / "natural", SomConfig(), api, progress=False)
        build(coco_items(coco, images, "natural", "coco"), root / "som" / "multipanel",
              SomConfig(tasks=("multipanel",), multipanel=2, max_panels=3, panel_unit=128), progress=False)
    return root


def test_som_natural_reads_every_record_with_its_image(data_root):
    records, errors = read(load_spec("som_natural", data_root))
    assert errors == []
    assert sorted(r["task"] for r in records) == ["som_annotated"] * 3 + ["som_marks"] * 3
    for record in records:
        assert record["source"] == "som_natural" and record["meta"]["domain"] == "natural"
        assert Image.open(record["images"][0]).size == (320, 240)  # the raw image, extracted once
        assert record["images"][0].startswith(str(data_root / "som" / "natural" / "image_cache"))
    annotated = next(r for r in records if r["task"] == "som_annotated")
    assert annotated["messages"][0]["content"] == "<image>\n" + PROMPTS.pick("som_caption")  # drawn again


def test_tasks_and_domains_options_filter_and_are_checked(data_root):
    marks, _ = read(load_spec("som_natural", data_root, tasks=["som_marks"]))
    assert {r["task"] for r in marks} == {"som_marks"} and len(marks) == 3
    assert read(load_spec("som_natural", data_root, domains=["screen"]))[0] == []
    with pytest.raises(ValueError, match="unknown"):
        read(load_spec("som_natural", data_root, tasks=["captions"]))
    figures, errors = read(load_spec("multipanel", data_root))
    assert errors == [] and [r["task"] for r in figures] == ["multipanel", "multipanel"]


def test_reader_records_become_marks_scene_text_polygons_as_masks(tmp_path):
    gt = tmp_path / "totaltext" / "Groundtruth" / "Text" / "Train"
    images = tmp_path / "totaltext" / "Images" / "Train"
    gt.mkdir(parents=True)
    images.mkdir(parents=True)
    Image.new("RGB", (200, 100), (255, 255, 255)).save(images / "img1.jpg")
    (gt / "poly_gt_img1.txt").write_text(
        "x: [[10 90 90 10]], y: [[10 10 40 40]], ornt: [u'h'], transcriptions: [u'STOP']\n"
        "x: [[110 190 150]], y: [[50 50 95]], ornt: [u'c'], transcriptions: [u'SHOP']\n"
        "x: [[5 9 9]], y: [[90 90 95]], ornt: [u'c'], transcriptions: [u'#']\n")
    (item,) = list(source_items("totaltext", tmp_path))
    assert item.domain == "text" and item.source == "totaltext" and (item.width, item.height) == (200, 100)
    assert [m.label for m in item.marks] == ["STOP", "SHOP"]
    triangle = item.marks[1].mask(200, 100)
    assert item.marks[1].shape == "mask" and triangle[60, 150] and not triangle[90, 115]  # the polygon, not its box
    with pytest.raises(ValueError, match="no sphinx_x/conf/data/source/nope.yaml"):
        list(source_items("nope", tmp_path))
