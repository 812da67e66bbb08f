"""OCR answers: labelled regions and the reserved markup cleaned out of page text."""

from __future__ import annotations

from sphinx_x.data.ocr.answers import clean_text, labelled_regions


def test_answer_format_and_reserved_markup() -> None:
    assert labelled_regions(["a  b", "c"], 1) == "<p>a b</p> <region:1>; <p>c</p> <region:2>"
    assert clean_text("x <image> <region:3> <p>y</p>") == "x < image> < region:3> < p>y< /p>"
