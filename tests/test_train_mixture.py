"""Training runs on a mixture with one public-format fixture source from each group."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import open_dict
from PIL import Image

from sphinx_x.runtime.config import load_conf_file
from sphinx_x.train import train


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _image(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 30, 30)).save(path)


def write_fixtures(root: Path) -> None:
    """UltraChat (language), COCO detection (vision), VQAv2 (vl), PubLayNet (ocr), in published layouts."""
    (root / "ultrachat").mkdir(parents=True)
    (root / "ultrachat" / "train_0.jsonl").write_text("\n".join(
        json.dumps({"id": str(i), "data": [f"What is {i} plus 1?", f"{i + 1}"]}) for i in range(6)))
    _image(root / "coco" / "train2017" / "000000000001.jpg", (200, 100))
    _json(root / "coco" / "annotations" / "instances_train2017.json", {
        "images": [{"id": 1, "file_name": "000000000001.jpg", "width": 200, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 40], "area": 2000,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "cat"}]})
    _image(root / "coco" / "train2014" / "COCO_train2014_000000000007.jpg", (120, 240))
    _json(root / "vqav2" / "v2_OpenEnded_mscoco_train2014_questions.json", {
        "data_subtype": "train2014", "questions": [{"image_id": 7, "question": "What colour?", "question_id": 70}]})
    _json(root / "vqav2" / "v2_mscoco_train2014_annotations.json", {
        "annotations": [{"question_id": 70, "answers": [{"answer": "red", "answer_id": k} for k in range(10)]}]})
    _image(root / "publaynet" / "train" / "page.jpg", (300, 400))
    _json(root / "publaynet" / "train.json", {
        "images": [{"id": 1, "file_name": "page.jpg", "width": 300, "height": 400}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 200, 40], "area": 8000,
                         "iscrowd": 0, "segmentation": []}],
        "categories": [{"id": 1, "name": "text"}, {"id": 2, "name": "title"}]})


def test_training_on_one_source_per_group(tmp_path, demo_config):
    write_fixtures(tmp_path / "data")
    cfg = demo_config(f"paths.data_root={tmp_path / 'data'}", "trainer.max_steps=3", "data.num_samples=12",
                      "data.val_sources=[]")
    with open_dict(cfg):
        cfg.data.sources = {name: load_conf_file(f"data/source/{name}.yaml")
                            for name in ("ultrachat", "coco_detection", "vqav2", "publaynet")}
        cfg.data.weighting = "size"
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 3
    header = (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0]
    assert sum(f"train/loss/{name}" in header for name in ("ultrachat", "coco_detection", "vqav2", "publaynet")) >= 2


def test_pdfs_to_ocr_shards_to_training(tmp_path, demo_config):
    """The README recipe: sphinx-x-build-ocr on a folder of PDFs, then train with data=ocr_pdfs."""
    import pymupdf

    from sphinx_x.build_ocr import main as build_ocr

    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    doc = pymupdf.open()
    for n in range(2):
        page = doc.new_page(width=400, height=300)
        text = f"Page {n}: the quick brown fox jumps over the lazy dog. " * 6
        page.insert_textbox(pymupdf.Rect(30, 30, 370, 270), text, fontsize=11)
    doc.save(pdfs / "paper.pdf")
    assert build_ocr(["--input", str(pdfs), "--out", str(tmp_path / "data" / "ocr_pages"), "--workers", "0"]) == 0
    cfg = demo_config("data=ocr_pdfs", f"paths.data_root={tmp_path / 'data'}", "trainer.max_steps=2",
                      "data.num_samples=8", "data.max_length=2048")
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 2 and result["rejected"] == {}
