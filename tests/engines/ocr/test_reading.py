"""Reading samples that follow layout: whole pages, tables kept whole, code line breaks, page
furniture read last or dropped, lines with unmapped glyphs left out (of spotting too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pymupdf
import pytest

from sphinx_x.data.ocr.answers import parse_labelled
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.pipeline import process_pdf
from tests.testkit.pdfs import (
    BROKEN_LINE,
    CODE,
    HEADER,
    PROSE,
    TABLE_ROWS,
    body_column,
    code_listing_page,
    furniture_pdf,
    table_and_code_page,
    unmapped_glyph_page,
)

READING = OcrConfig(dpi=72, tasks=("reading",))
TABLE = "\n".join(" ".join(row) for row in TABLE_ROWS)


def save(tmp_path: Path, make, name: str = "page.pdf") -> Path:
    doc = pymupdf.open()
    make(doc)
    doc.save(tmp_path / name)
    return tmp_path / name


def samples(path: Path, cfg: OcrConfig = READING, page: int = 0) -> list[tuple[str, str, list]]:
    """(question, answer, regions) of each record of one page."""
    result = process_pdf(str(path), path.name, cfg)
    doc = next(p.doc for p in result.pages if p.page == page)
    return [(r["messages"][0]["content"], r["messages"][1]["content"], r.get("regions", [])) for r in doc["records"]]


def test_a_page_that_fits_is_one_sample_with_table_rows_and_code_lines(tmp_path: Path) -> None:
    ((question, answer, regions),) = samples(save(tmp_path, table_and_code_page))
    assert "<region" not in question and not regions
    assert answer == "\n".join([PROSE[0], PROSE[1], TABLE, PROSE[2], *CODE, PROSE[3]])


def test_a_longer_page_splits_at_blocks_into_the_fewest_samples_and_keeps_the_table_whole(tmp_path: Path) -> None:
    path = save(tmp_path, table_and_code_page)
    answers = [a for _, a, _ in samples(path, replace(READING, reading_max_chars=300))]
    assert answers == ["\n".join([PROSE[0], PROSE[1], TABLE]), "\n".join([PROSE[2], *CODE, PROSE[3]])]
    answers = [a for _, a, _ in samples(path, replace(READING, reading_max_chars=200))]
    assert any(TABLE in a for a in answers) and all(len(a) >= READING.min_reading_chars for a in answers)
    assert "\n".join(answers) == "\n".join([PROSE[0], PROSE[1], TABLE, PROSE[2], *CODE, PROSE[3]])


def test_no_sample_is_shorter_than_the_minimum(tmp_path: Path) -> None:
    path = furniture_pdf(tmp_path / "book.pdf")  # split: the page number "1" becomes a chunk of its own
    cfg = replace(READING, reading_max_chars=200)
    result = process_pdf(str(path), path.name, cfg)
    page = next(p for p in result.pages if p.page == 0)
    answers = [r["messages"][1]["content"] for r in page.doc["records"]]
    assert len(answers) > 2 and min(len(a) for a in answers) >= cfg.min_reading_chars
    assert "1" not in answers and HEADER in answers
    assert page.stats["reading_short_dropped"] == 1
    assert [r["meta"]["parts"] for r in page.doc["records"]] == [len(answers)] * len(answers)


def test_code_placed_by_offsets_keeps_its_indentation(tmp_path: Path) -> None:
    ((_, answer, _),) = samples(save(tmp_path, code_listing_page))
    assert answer == "\n".join([PROSE[3], *CODE])


FURNITURE_ORDERS = {
    "keep": lambda n: [HEADER, " ".join(body_column("left", n)), str(n), " ".join(body_column("right", n))],
    "last": lambda n: [" ".join(body_column("left", n)), " ".join(body_column("right", n)), HEADER, str(n)],
}


@pytest.mark.parametrize("mode", ["keep", "last"])
def test_running_header_and_page_number_are_read_last(tmp_path: Path, mode: str) -> None:
    path = furniture_pdf(tmp_path / "book.pdf")
    for page in range(3):
        ((question, answer, _),) = samples(path, replace(READING, furniture=mode), page)
        assert answer.split("\n") == FURNITURE_ORDERS[mode](page + 1)  # "keep": the number between the columns


def test_dropped_furniture_turns_the_page_into_a_body_region(tmp_path: Path) -> None:
    path = furniture_pdf(tmp_path / "book.pdf")
    ((question, answer, regions),) = samples(path, replace(READING, furniture="drop"))
    assert "<region:0>" in question
    assert answer.split("\n") == [" ".join(body_column("left", 1)), " ".join(body_column("right", 1))]
    x0, y0, x1, y1 = regions[0]["box"]
    assert y0 > 600 and y1 < 750  # the body only: header at the top and number at the bottom left out
    result = process_pdf(str(path), path.name, READING)
    assert result.pages[0].stats["furniture_lines"] == 2
    assert [ln["text"] for ln in result.pages[0].doc["text"]["lines"] if ln["furniture"]] == [HEADER, "1"]


def test_a_single_page_number_is_furniture_and_duplicates_ignore_it(tmp_path: Path) -> None:
    path = furniture_pdf(tmp_path / "one.pdf", pages=1)
    result = process_pdf(str(path), path.name, READING)
    assert [ln["text"] for ln in result.pages[0].doc["text"]["lines"] if ln["furniture"]] == ["1"]


def test_unmapped_glyphs_exclude_their_line_not_the_page(tmp_path: Path) -> None:
    path = save(tmp_path, unmapped_glyph_page)
    cfg = replace(READING, tasks=("reading", "spotting", "grounding"))
    result = process_pdf(str(path), path.name, cfg)
    assert not result.rejects
    (page,) = result.pages
    bad = [ln for ln in page.doc["text"]["lines"] if ln["bad"]]
    assert [ln["text"] for ln in bad] == ["\ufffd" * 4 + BROKEN_LINE[4:]]
    records = page.doc["records"]
    answers = "\n".join(r["messages"][k]["content"] for r in records for k in range(1, len(r["messages"]), 2))
    assert "\ufffd" not in answers and "then plain words" not in answers
    readings = [r for r in records if r["task"] == "ocr_reading"]
    assert [r["messages"][1]["content"] for r in readings] == [" ".join(PROSE[:2]), " ".join(PROSE[2:])]
    spotted = [label for r in records if r["task"] == "text_spotting"
               for label, _ in parse_labelled(r["messages"][1]["content"])]
    assert spotted == PROSE
    broken_box = bad[0]["box"]
    for r in records:
        if r["task"] in ("ocr_reading", "text_spotting"):
            x0, y0, x1, y1 = r["regions"][0]["box"]  # each asks about a region that avoids the broken line
            assert y1 <= broken_box[1] + 1 or y0 >= broken_box[3] - 1
