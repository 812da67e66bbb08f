"""Block styles (prose, code, table row), code rows and table runs from line geometry."""

from __future__ import annotations

from dataclasses import dataclass

from sphinx_x.data.boxes import Box
from sphinx_x.engines.ocr.blocks import block_style, block_text, code_rows, tables


@dataclass
class L:
    text: str
    box: Box
    mono: bool = True
    indent: int = 0


def test_code_rows_join_pieces_on_one_baseline_and_indent_by_offset() -> None:
    char = 6.0
    lines = [L("00000020", (10, 0, 58, 10)), L("00 05 64", (70, 0, 118, 10)),  # one row, two pieces 2 chars apart
             L("if x:", (10 + 4 * char, 12, 10 + 9 * char, 22)), L("y", (10, 24, 16, 34), indent=2)]
    assert code_rows(lines) == ["00000020  00 05 64", "    if x:", "  y"]
    assert block_style(lines) == "code"
    assert block_text(lines, "code") == ("00000020  00 05 64\n    if x:\n  y", 0)


def test_a_block_with_one_proportional_line_is_not_code() -> None:
    lines = [L("int f(int x)", (0, 0, 72, 10)), L("[Function]", (300, 0, 360, 10), mono=False)]
    assert block_style(lines) == "row"
    assert block_style([lines[0], L("Returns x.", (0, 12, 60, 22), mono=False)]) == "prose"


def test_tables_are_runs_of_rows_trimmed_to_rows_with_several_cells() -> None:
    styles = ["prose", "prose", "row", "prose", "row", "prose", "code"]
    boxes = [(0, 0, 100, 10), (0, 12, 100, 22), (0, 24, 100, 34), (0, 36, 100, 46), (0, 48, 100, 58),
             (0, 60, 100, 70), (0, 72, 100, 82)]
    cells = [1, 1, 3, 1, 3, 1, 4]
    assert tables(styles, boxes, cells) == [[2, 3, 4]]
    far = [*boxes[:4], (0, 148, 100, 158), *boxes[5:]]  # a gap of ten rows ends the table
    assert tables(styles, far, cells) == []
