"""Public layout and spotting sets: tiny fixtures in each published layout -> exact Records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from sphinx_x.data.prompts import OCR_POOLS, PromptPool
from sphinx_x.data.records import RejectLog
from sphinx_x.data.sources.base import SourceSpec, iter_source

SPOT = "<image>\n" + OCR_POOLS["text_spotting"][0]
LAYOUT = "<image>\n" + OCR_POOLS["layout_blocks"][0]


def image(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), "white").save(path)
    return path


def read(name: str, reader: str, path: Path, image_root: Path, task: str, **options) -> tuple[list[dict], RejectLog]:
    spec = SourceSpec(name=name, reader=reader, path=str(path), group="ocr", task=task, image_root=str(image_root),
                      options=options)
    rejects = RejectLog()
    return list(iter_source(spec, PromptPool(fixed=True), rejects)), rejects


def record(id: str, source: str, task: str, image: Path, question: str, answer: str, boxes: list, meta: dict,
           pool: str) -> dict:
    return {"id": id, "source": source, "task": task, "images": [str(image)],
            "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            "regions": [{"image": 0, "box": b} for b in boxes],
            "meta": {**meta, "part": 0, "parts": 1, "prompts": [{"pool": pool, "fields": {}}]}}


def coco(tmp_path: Path, categories: list[dict]) -> Path:
    data = {
        "images": [{"id": 7, "file_name": "page.png", "width": 200, "height": 100},
                   {"id": 8, "file_name": "blank.png", "width": 50, "height": 50},
                   {"id": 9, "file_name": "bad.png", "width": 50, "height": 50}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [110, 30, 80, 60], "area": 4800, "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [10, 5, 180, 15], "area": 2700, "iscrowd": 0},
            {"id": 3, "image_id": 7, "category_id": 1, "bbox": [10, 30, 80, 60], "area": 4800, "iscrowd": 0},
            {"id": 4, "image_id": 9, "category_id": 1, "bbox": [10, 10, 90, 10], "area": 900, "iscrowd": 0},
        ],
        "categories": categories,
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("reader_name", "categories", "labels"), [
    ("publaynet", [{"id": 1, "name": "text"}, {"id": 2, "name": "title"}], ("title", "text")),
    ("doclaynet", [{"id": 1, "name": "List-item"}, {"id": 2, "name": "Page-header"}], ("page header", "list item")),
    ("m6doc", [{"id": 1, "name": "paragraph"}, {"id": 2, "name": "headline"}], ("headline", "paragraph")),
])
def test_coco_layout(tmp_path: Path, reader_name: str, categories: list[dict], labels: tuple[str, str]) -> None:
    records, rejects = read(reader_name, "coco_layout", coco(tmp_path, categories), tmp_path / "img", "layout")
    top, body = labels
    assert records == [record(
        f"{reader_name}/7", reader_name, "layout", tmp_path / "img" / "page.png", LAYOUT,
        f"<p>{top}</p> <region:0>\n<p>{body}</p> <region:1>\n<p>{body}</p> <region:2>",
        [[10, 5, 190, 20], [10, 30, 90, 90], [110, 30, 190, 90]], {"image_size": [200, 100]}, "layout_blocks")]
    assert rejects.counts == {(reader_name, "no_annotations"): 1, (reader_name, "box_outside_image"): 1}


def test_coco_layout_splits_crowded_pages(tmp_path: Path) -> None:
    path = coco(tmp_path, [{"id": 1, "name": "text"}, {"id": 2, "name": "title"}])
    records, _ = read("publaynet", "coco_layout", path, tmp_path, "layout", max_regions=2)
    assert [r["id"] for r in records] == ["publaynet/7/0", "publaynet/7/1"]
    assert records[0]["messages"][0]["content"] == "<image>\n" + OCR_POOLS["layout_blocks_region"][0].format(
        box="<region:0>")
    # title + left column would cover the right column: the title stands alone, the columns go together
    assert records[0]["messages"][1]["content"] == "<p>title</p> <region:1>"
    assert [r["box"] for r in records[0]["regions"]] == [[10, 5, 190, 20], [10, 5, 190, 20]]
    assert records[1]["messages"][1]["content"] == "<p>text</p> <region:1>\n<p>text</p> <region:2>"
    assert records[1]["regions"][0]["box"] == [10, 30, 190, 90]
    assert [r["meta"]["part"] for r in records] == [0, 1] and records[1]["meta"]["parts"] == 2


DOCBANK = """Deep\t100\t40\t200\t80\t0\t0\t0\tTimes-Bold\ttitle
Learning\t210\t40\t300\t80\t0\t0\t0\tTimes-Bold\ttitle
We\t100\t200\t150\t230\t0\t0\t0\tTimes\tparagraph
propose\t160\t200\t260\t230\t0\t0\t0\tTimes\tparagraph
a\t100\t240\t120\t270\t0\t0\t0\tTimes\tparagraph
model\t130\t240\t230\t270\t0\t0\t0\tTimes\tparagraph
##LTFigure##\t600\t200\t900\t600\t0\t0\t0\t\tfigure
##LTLine##\t100\t700\t900\t701\t0\t0\t0\t\tparagraph
"""


def docbank(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "1.tar_1801.00617.gz_idempotents_arxiv_4.txt").write_text(DOCBANK)
    image(tmp_path / "img" / "1.tar_1801.00617.gz_idempotents_arxiv_4_ori.jpg", 500, 250)
    return tmp_path / "txt", tmp_path / "img"


def test_docbank_layout(tmp_path: Path) -> None:
    txt, img = docbank(tmp_path)
    records, rejects = read("docbank", "docbank", txt, img, "layout")
    assert records == [record(
        "docbank/1.tar_1801.00617.gz_idempotents_arxiv_4", "docbank", "layout",
        img / "1.tar_1801.00617.gz_idempotents_arxiv_4_ori.jpg", LAYOUT,
        "<p>title</p> <region:0>\n<p>paragraph</p> <region:1>\n<p>figure</p> <region:2>",
        [[50, 10, 150, 20], [50, 50, 130, 67.5], [300, 50, 450, 150]], {"image_size": [500, 250]}, "layout_blocks")]
    assert not rejects.counts


def test_docbank_spotting_lines(tmp_path: Path) -> None:
    txt, img = docbank(tmp_path)
    records, _ = read("docbank", "docbank", txt, img, "spotting")
    (rec,) = records
    assert rec["messages"] == [{"role": "user", "content": SPOT}, {"role": "assistant", "content":
                               "<p>Deep Learning</p> <region:0>\n<p>We propose</p> <region:1>\n<p>a model</p> <region:2>"}]
    assert [r["box"] for r in rec["regions"]] == [[50, 10, 150, 20], [50, 50, 130, 57.5], [50, 60, 115, 67.5]]
    assert rec["meta"]["labels"] == ["title", "paragraph", "paragraph"]


def test_docbank_missing_image_and_bad_lines(tmp_path: Path) -> None:
    txt, img = docbank(tmp_path)
    (txt / "noimage.txt").write_text(DOCBANK)
    image(img / "bad_ori.jpg", 10, 10)
    (txt / "bad.txt").write_text("word\t1\t2\n")
    records, rejects = read("docbank", "docbank", txt, img, "layout")
    assert len(records) == 1
    assert rejects.counts == {("docbank", "missing_image"): 1, ("docbank", "malformed_line"): 1}


def test_icdar2013_both_gt_styles(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "gt_img_1.txt").write_text('38, 43, 149, 80, "Tiredness"\n160, 43, 300, 80, "kills"\n')
    (gt / "gt_100.txt").write_text('10 10 50 30 "Foot path"\n')
    image(tmp_path / "img" / "img_1.jpg", 320, 240)
    image(tmp_path / "img" / "100.jpg", 60, 40)
    records, rejects = read("icdar2013", "icdar2013", gt, tmp_path / "img", "spotting")
    assert records == [
        record("icdar2013/100", "icdar2013", "spotting", tmp_path / "img" / "100.jpg", SPOT,
               "<p>Foot path</p> <region:0>", [[10, 10, 50, 30]],
               {"image_size": [60, 40], "ignored": [], "polygons": [[10, 10, 50, 10, 50, 30, 10, 30]]}, "text_spotting"),
        record("icdar2013/img_1", "icdar2013", "spotting", tmp_path / "img" / "img_1.jpg", SPOT,
               "<p>Tiredness</p> <region:0>\n<p>kills</p> <region:1>", [[38, 43, 149, 80], [160, 43, 300, 80]],
               {"image_size": [320, 240], "ignored": [],
                "polygons": [[38, 43, 149, 43, 149, 80, 38, 80], [160, 43, 300, 43, 300, 80, 160, 80]]},
               "text_spotting"),
    ]
    assert not rejects.counts


def test_icdar2015_quads_dont_care_and_commas(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "gt_img_1.txt").write_text(
        "\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\n"
        "493,115,519,115,519,131,493,131,[06]\n"
        "374,155,409,155,409,170,374,170,###\n"
        "10,300,60,300,60,320,10,320,1,000\n", encoding="utf-8")
    (gt / "gt_img_2.txt").write_text("1,1,5,1,5,5,1,5,###\n")
    (gt / "gt_img_3.txt").write_text("1,1,5,1,5,5\n")
    for n in (1, 2, 3):
        image(tmp_path / "img" / f"img_{n}.jpg", 640, 480)
    records, rejects = read("icdar2015", "icdar2015", gt, tmp_path / "img", "spotting")
    assert records == [record(
        "icdar2015/img_1", "icdar2015", "spotting", tmp_path / "img" / "img_1.jpg", SPOT,
        "<p>Genaxis Theatre</p> <region:0>\n<p>[06]</p> <region:1>\n<p>1,000</p> <region:2>",  # rows
        [[377, 117, 465, 130], [493, 115, 519, 131], [10, 300, 60, 320]],
        {"image_size": [640, 480], "ignored": [[374, 155, 409, 155, 409, 170, 374, 170]],
         "polygons": [[377, 117, 463, 117, 465, 130, 378, 130], [493, 115, 519, 115, 519, 131, 493, 131],
                      [10, 300, 60, 300, 60, 320, 10, 320]]},
        "text_spotting")]
    assert rejects.counts == {("icdar2015", "no_text"): 1, ("icdar2015", "malformed_annotation"): 1}


def test_totaltext_polygons(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "poly_gt_img11.txt").write_text(
        "x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'#'], transcriptions: [u'#']\n"
        "x: [[734 1058 1061 744]], y: [[360 369 449 430]], ornt: [u'h'], transcriptions: [u'PETROSAINS']\n"
        "x: [[10 60 60 10]], y: [[10 10 30 30]], ornt: [u'h'], transcriptions: [u\"DON'T\"]\n")
    image(tmp_path / "img" / "img11.jpg", 1100, 500)
    records, rejects = read("totaltext", "totaltext", gt, tmp_path / "img", "spotting")
    assert records == [record(
        "totaltext/img11", "totaltext", "spotting", tmp_path / "img" / "img11.jpg", SPOT,
        "<p>DON'T</p> <region:0>\n<p>PETROSAINS</p> <region:1>", [[10, 10, 60, 30], [734, 360, 1061, 449]],
        {"image_size": [1100, 500], "ignored": [[115, 322, 503, 346, 494, 426, 115, 404]],
         "polygons": [[10, 10, 60, 10, 60, 30, 10, 30], [734, 360, 1058, 369, 1061, 449, 744, 430]]},
        "text_spotting")]
    assert not rejects.counts


def curve(x0: float, y0: float) -> list[float]:
    top = [(x0 + 10 * i, y0 - (i % 3)) for i in range(7)]
    bottom = [(x0 + 10 * i, y0 + 30 + (i % 2)) for i in reversed(range(7))]
    return [float(v) for p in top + bottom for v in p]


def test_ctw1500_xml_and_end_to_end_txt(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    poly = curve(20, 20)
    segs = ",".join(str(int(v)) for v in poly)
    (gt / "0001.xml").write_text(
        f'<Annotations><image file="0001.jpg"><box height="33" left="20" top="18" width="60">'
        f"<label>HELLO</label><segs>{segs}</segs><pts x=\"20\" y=\"20\" /></box></image></Annotations>")
    (gt / "1001.txt").write_text(f"{segs},####WORLD\n{segs},#######\n")
    image(tmp_path / "img" / "0001.jpg", 300, 150)
    image(tmp_path / "img" / "1001.jpg", 300, 150)
    records, rejects = read("ctw1500", "ctw1500", gt, tmp_path / "img", "spotting")
    box = [20, 18, 80, 51]
    assert records == [
        record("ctw1500/0001", "ctw1500", "spotting", tmp_path / "img" / "0001.jpg", SPOT, "<p>HELLO</p> <region:0>",
               [box], {"image_size": [300, 150], "ignored": [], "polygons": [poly]}, "text_spotting"),
        record("ctw1500/1001", "ctw1500", "spotting", tmp_path / "img" / "1001.jpg", SPOT, "<p>WORLD</p> <region:0>",
               [box], {"image_size": [300, 150], "ignored": [poly], "polygons": [poly]}, "text_spotting"),
    ]
    assert not rejects.counts


def test_spotting_missing_image_and_box_outside(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "gt_img_1.txt").write_text("1,1,5,1,5,5,1,5,a\n")
    (gt / "gt_img_2.txt").write_text("1,1,500,1,500,5,1,5,far\n")
    image(tmp_path / "img" / "img_2.png", 100, 50)
    records, rejects = read("icdar2015", "icdar2015", gt, tmp_path / "img", "spotting")
    assert records == []
    assert rejects.counts == {("icdar2015", "missing_image"): 1, ("icdar2015", "box_outside_image"): 1}
