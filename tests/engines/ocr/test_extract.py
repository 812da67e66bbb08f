"""Text, boxes and reading order recovered from PDFs built with PyMuPDF, checked against the ink."""

from __future__ import annotations

import io

import numpy as np
import pymupdf
import pytest
from PIL import Image

from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.extract import PageText, extract_page
from sphinx_x.engines.ocr.render import render_page
from sphinx_x.engines.ocr.tasks import read_lines
from tests.testkit.pdfs import KNOWN, KNOWN_AT, KNOWN_SIZE, LEFT, RIGHT, TITLE, text_page

CFG = OcrConfig()


def rendered(page: pymupdf.Page, scale: float) -> tuple[PageText, np.ndarray]:
    text = extract_page(page, scale, CFG, figures=True)
    image = render_page(page, text.render_matrix)
    text.shift(*image.origin)
    text.clip(image.width, image.height)
    return text, np.asarray(Image.open(io.BytesIO(image.png)).convert("L"))


def ink_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(gray < 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def line(text: PageText, content: str):
    return next(ln for ln in text.lines if ln.text == content)


@pytest.mark.parametrize("dpi", [72, 144, 200])
def test_known_text_box_scales_with_dpi(dpi: int) -> None:
    doc = pymupdf.open()
    text, _ = rendered(text_page(doc), dpi / 72)
    s = dpi / 72
    font = pymupdf.Font("helv")
    width = font.text_length(KNOWN, fontsize=KNOWN_SIZE)
    x, y = KNOWN_AT
    expected = ((x) * s, (y - font.ascender * KNOWN_SIZE) * s, (x + width) * s, (y - font.descender * KNOWN_SIZE) * s)
    assert line(text, KNOWN).box == pytest.approx(expected, abs=2.0)


def test_two_columns_read_column_by_column_with_hyphenation_merged() -> None:
    doc = pymupdf.open()
    text, _ = rendered(text_page(doc), 1.0)
    assert [ln.text for ln in text.lines] == [TITLE, *LEFT, *RIGHT, KNOWN]
    reading = read_lines(text)
    assert "and the information that remains" in reading
    assert reading.split("\n") == [TITLE, " ".join(LEFT).replace("infor- mation", "information"), " ".join(RIGHT), KNOWN]
    assert text.stats["dehyphenated"] == 1
    fonts = {round(ln.size) for ln in text.lines}
    assert fonts == {16, 7, 12}


def test_words_carry_boxes_inside_their_line() -> None:
    doc = pymupdf.open()
    text, _ = rendered(text_page(doc), 2.0)
    known = text.lines.index(line(text, KNOWN))
    mine = [i for i, ln in enumerate(text.words.lines) if ln == known]
    assert [text.words.texts[i] for i in mine] == KNOWN.split()
    lb = text.lines[known].box
    for x0, y0, x1, y1 in text.words.boxes[mine]:
        assert lb[0] - 0.5 <= x0 < x1 <= lb[2] + 0.5 and lb[1] - 0.5 <= y0 < y1 <= lb[3] + 0.5
    assert text.to_json()["words"]["text"][mine[0]] == "Known"


def make_page(rotation: int = 0, text_rotate: int = 0, crop: bool = False) -> pymupdf.Page:
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=600)
    page.insert_text((100, 400 if text_rotate else 200), "Hello world text", fontsize=12, rotate=text_rotate)
    if crop:
        page.set_cropbox(pymupdf.Rect(50, 100, 350, 500))
    page.set_rotation(rotation)
    return page


@pytest.mark.parametrize(("rotation", "text_rotate", "crop", "size"), [
    (0, 0, False, (800, 1200)),
    (90, 90, False, (1200, 800)),  # landscape page: content drawn sideways, /Rotate makes it upright
    (270, 90, False, (1200, 800)),  # upside down once displayed: turned 180 degrees
    (90, 0, False, (800, 1200)),  # upright content shown sideways by /Rotate: turned back
    (180, 0, False, (800, 1200)),
    (270, 0, True, (600, 800)),  # cropped and rotated
])
def test_rotated_and_cropped_pages_boxes_match_the_ink(rotation: int, text_rotate: int, crop: bool,
                                                       size: tuple[int, int]) -> None:
    text, gray = rendered(make_page(rotation, text_rotate, crop), 2.0)
    assert gray.shape[::-1] == size
    (only,) = text.lines
    assert only.text == "Hello world text"
    ink = ink_box(gray)
    box = only.box
    assert box[0] - 1 <= ink[0] and ink[2] <= box[2] + 1 and box[1] - 1 <= ink[1] and ink[3] <= box[3] + 1
    assert abs(box[0] - ink[0]) <= 4 and abs(box[2] - ink[2]) <= 4  # tight horizontally
    assert (box[3] - box[1]) <= 2.0 * (ink[3] - ink[1]) + 4


def test_turn_is_recorded_and_can_be_disabled() -> None:
    text = extract_page(make_page(90), 1.0, CFG)
    assert text.turn in (90, 270) and text.stats["pages_uprighted"] == 1
    sideways = extract_page(make_page(90), 1.0, OcrConfig(upright=False))
    assert sideways.turn == 0 and not sideways.lines and sideways.stats["vertical_lines"] == 1


def test_figures_become_layout_blocks_and_invisible_text_is_dropped() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=600)
    page.insert_text((100, 100), "Visible caption text", fontsize=12)
    page.insert_text((100, 500), "Hidden OCR layer", fontsize=12, render_mode=3)
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    pix.set_rect(pix.irect, (0, 0, 0))
    page.insert_image(pymupdf.Rect(100, 200, 300, 400), pixmap=pix)
    text, _ = rendered(page, 1.0)
    assert [ln.text for ln in text.lines] == ["Visible caption text"]
    assert text.invisible_chars == len("HiddenOCRlayer")
    assert [b.kind for b in text.blocks] == ["text", "figure"]
    assert text.blocks[1].box == pytest.approx((100, 200, 300, 400), abs=0.5)


@pytest.mark.parametrize(("gap", "merged"), [(10, True), (40, False)])
def test_line_fragments_on_one_baseline_are_merged(gap: float, merged: bool) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=600)
    page.insert_text((50, 100), "split", fontsize=12)
    page.insert_text((50 + pymupdf.get_text_length("split", fontsize=12) + gap, 100), "sentence", fontsize=12)
    text = extract_page(page, 1.0, CFG)
    assert [ln.text for ln in text.lines] == (["split sentence"] if merged else ["split", "sentence"])
    assert text.stats["merged_lines"] == int(merged)
    assert extract_page(page, 1.0, OcrConfig(merge_splits=False)).stats["merged_lines"] == 0
