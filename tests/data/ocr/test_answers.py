"""OCR answers: labelled regions and the reserved markup cleaned out of page text."""

from __future__ import annotations

from sphinx_x.data.ocr.answers import clean_text, labelled_regions, parse_labelled


def test_answer_format_and_reserved_markup() -> None:
    assert labelled_regions(["a  b", "c"], 1) == "<p>a b</p> <region:1>\n<p>c</p> <region:2>"
    assert clean_text("x <image> <region:3> <p>y</p>") == "x < image> < region:3> < p>y< /p>"


def test_labelled_answer_round_trips_text_holding_the_old_separator() -> None:
    from sphinx_x.data.geometry import ImageFrame, write_regions

    labels = ["Parameters: x; y; z", "see [1]; [2]", "a <p>b</p>; c", "1; 2; 3", "plain"]
    answer = labelled_regions(labels)
    assert answer.count("\n") == len(labels) - 1
    assert parse_labelled(answer) == [(clean_text(t), f"<region:{i}>") for i, t in enumerate(labels)]
    frame = ImageFrame.fit(200, 100, side=448, grid=2)
    regions = [{"image": 0, "box": [10 * i, 5, 10 * i + 50, 20]} for i in range(len(labels))]
    written = write_regions([{"role": "assistant", "content": answer}], regions, [frame])[0]["content"]
    parsed = parse_labelled(written)
    assert [label for label, _ in parsed] == [clean_text(t) for t in labels]
    assert [where for _, where in parsed] == [frame.box_to_text(r["box"]) for r in regions]
