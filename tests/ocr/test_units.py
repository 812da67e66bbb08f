"""Quality filters, PNG encoding, reading order and chunking, answer formats."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sphinx_x.data.boxes import transform_box
from sphinx_x.data.ocr.answers import clean_text, labelled_regions
from sphinx_x.data.ocr.chunks import exclusive_chunks
from sphinx_x.data.ocr.reading_order import reading_order, row_order
from sphinx_x.data.prompts import OCR_POOLS, PromptPool
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.quality import char_stats, text_hash, text_verdict
from sphinx_x.engines.ocr.render import encode_png

CFG = OcrConfig(min_chars=10)


def test_char_stats_count_invalid_unicode() -> None:
    stats = char_stats("ab\ufffd\ue000 c\x07d 12\U000f0001 \u0378")
    assert (stats.chars, stats.bad, stats.alnum) == (11, 5, 6)


@pytest.mark.parametrize(("text", "reason"), [
    ("short", "too_little_text"),
    ("\ufffd" * 20 + "valid text here", "bad_unicode"),
    ("\ue000\ue001 private use " * 5, "bad_unicode"),
    ("%% ** ## @@ !! ?? ++ == -- .. ,, ;; a", "low_alnum"),
    ("A perfectly normal sentence of text.", None),
])
def test_text_verdict(text: str, reason: str | None) -> None:
    verdict = text_verdict(char_stats(text), CFG)
    assert (verdict[0] if verdict else None) == reason


def test_text_hash_normalises_case_and_whitespace() -> None:
    assert text_hash("Hello   World\n") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello world 2")


@pytest.mark.parametrize("grey", [True, False])
def test_png_round_trip(grey: bool) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    if grey:
        pixels[:] = pixels[:, :, :1]
    image = Image.open(io.BytesIO(encode_png(pixels.tobytes(), 5, 7, 3)))
    assert image.mode == ("L" if grey else "RGB") and image.size == (5, 7)
    assert np.array_equal(np.asarray(image.convert("RGB")), pixels)


def test_reading_order_two_columns_under_a_spanning_title() -> None:
    boxes = [
        (320, 100, 560, 300),  # right column, top
        (50, 40, 560, 80),  # title
        (50, 320, 290, 500),  # left column, bottom
        (50, 100, 290, 300),  # left column, top
        (320, 320, 560, 500),  # right column, bottom
        (50, 700, 560, 720),  # footer spanning both
    ]
    assert reading_order(boxes) == [1, 3, 2, 0, 4, 5]


def test_reading_order_of_lines_in_two_columns() -> None:
    left = [(50, 100 + 12 * i, 290, 110 + 12 * i) for i in range(5)]
    right = [(320, 100 + 12 * i, 560, 110 + 12 * i) for i in range(5)]
    interleaved = [b for pair in zip(left, right, strict=True) for b in pair]
    assert reading_order(interleaved) == [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]


def test_row_order_for_scene_text() -> None:
    boxes = [(300, 12, 400, 40), (10, 10, 100, 38), (50, 100, 90, 120), (120, 14, 200, 35)]
    assert row_order(boxes) == [1, 3, 0, 2]


def test_exclusive_chunks_never_cover_other_units() -> None:
    left = [(50, 100 + 12 * i, 290, 110 + 12 * i) for i in range(6)]
    right = [(320, 100 + 12 * i, 560, 110 + 12 * i) for i in range(3)]
    boxes = left + right
    assert exclusive_chunks(boxes, [1] * 9, 100, 100) == [list(range(9))]
    # left bottom half + right top half would cover the right column's lines -> split at the column
    assert exclusive_chunks(boxes, [1] * 9, 4, 100) == [[0, 1, 2, 3], [4, 5], [6, 7, 8]]
    assert exclusive_chunks(boxes, [3] * 9, 100, 7) == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    assert exclusive_chunks([(0, 0, 10, 10)], [50], 1, 10) == [[0]]  # an oversized unit is kept whole


def test_transform_box_rotation() -> None:
    assert transform_box((10, 20, 30, 40), (0, 1, -1, 0, 600, 0)) == (560, 10, 580, 30)


def test_answer_format_and_reserved_markup() -> None:
    assert labelled_regions(["a  b", "c"], 1) == "<p>a b</p> <region:1>; <p>c</p> <region:2>"
    assert clean_text("x <image> <region:3> <p>y</p>") == "x < image> < region:3> < p>y< /p>"


def test_prompt_pools_merge_and_keep_verbatim_first() -> None:
    assert OCR_POOLS["text_spotting"][0] == "Detect all texts and provide their bounding box coordinates."
    merged = PromptPool({"text_spotting": ["custom"]}, seed=3, fixed=True)
    assert merged.pick("text_spotting") == "custom" and merged.pick("ocr_page") == OCR_POOLS["ocr_page"][0]
    assert merged.seed == 3 and merged.fixed


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="ocr.tasks"):
        OcrConfig(tasks=("reading", "poetry"))
    with pytest.raises(ValueError, match="ocr.png_level"):
        OcrConfig(png_level=12)
