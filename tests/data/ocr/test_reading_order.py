"""Reading order of page blocks and lines, scene-text rows, and chunks cut along the order."""

from __future__ import annotations

from sphinx_x.data.ocr.chunks import exclusive_chunks
from sphinx_x.data.ocr.reading_order import reading_order, row_order


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


def test_exclusive_chunks_are_as_few_as_fit() -> None:
    # units 0 and 1 alone would cover unit 2 (between them), so growing a chunk unit by unit stops
    # after unit 0 (three chunks); the fewest chunks take 0-2 together
    boxes = [(0, 0, 10, 10), (20, 20, 30, 30), (10, 10, 20, 20), (100, 100, 110, 110)]
    assert exclusive_chunks(boxes, [1, 1, 1, 5], 100, 4) == [[0, 1, 2], [3]]
    # among the fewest chunks, earlier chunks are as long as possible
    row = [(10 * i, 0, 10 * i + 8, 8) for i in range(5)]
    assert exclusive_chunks(row, [2] * 5, 100, 6) == [[0, 1, 2], [3, 4]]


def test_exclusive_chunks_never_cover_a_hole() -> None:
    lines = [(50, 100 + 12 * i, 290, 110 + 12 * i) for i in range(5)]
    hole = [(50, 124, 290, 134)]  # an unreadable line between units 1 and 2
    assert exclusive_chunks(lines[:2] + lines[3:], [1] * 4, 100, 100, holes=hole) == [[0, 1], [2, 3]]
    assert exclusive_chunks(lines, [1] * 5, 100, 100, holes=[(400, 0, 500, 50)]) == [list(range(5))]
