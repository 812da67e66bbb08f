"""Page-text quality filters: character statistics, verdicts and the duplicate-page hash."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.pipeline import build
from sphinx_x.engines.ocr.quality import char_stats, has_bad_chars, text_hash, text_verdict
from tests.testkit.pdfs import CFG as BUILD_CFG
from tests.testkit.pdfs import TOC_ENTRIES, toc_page

CFG = OcrConfig(min_chars=10)
TABLE = "\n".join(["Year | Q1 | Q2 | Q3 | Q4", "2023 | 12.5 | 13.0 | - | -", "2024 | 14.1 | 15.2 | 16.0 | 17.3"] * 3)
CODE = "\n".join(["for (int i = 0; i < n; i++) {", "    a[i] = b[i] * 2 + c[i];", "}", "return a;"] * 3)
MATHS = "Let f(x) = ∑ᵢ λᵢ xᵢ² with λ ≥ 0; then ‖f‖ ≤ max(λ) · ‖x‖² for every x ∈ ℝⁿ."
SOUP = "%% ** ## @@ !! ?? ++ == -- .. ,, ;; a"
SCATTERED = "Ա Ⴀ Ꭰ ᐁ ᚠ ᛁ ꓐ ꔀ ꕀ ꖀ ꗀ Ⰰ ⴰ ꚠ ꛀ ꜣ " * 3 + "text"  # a CID font read without its map
BILINGUAL = "The reader reads pages. Читатель читает страницы. " * 3


def test_char_stats_count_invalid_unicode() -> None:
    stats = char_stats("ab\ufffd\ue000 c\x07d 12\U000f0001 \u0378")
    assert (stats.chars, stats.bad, stats.alnum) == (11, 5, 6)


def test_leaders_are_set_aside_from_the_symbol_share() -> None:
    stats = char_stats("1.2 Rendering . . . . . . . . 12\nIndex ______ 7\n3 Results ........ 9")
    assert stats.leaders == 8 + 6 + 8
    assert stats.symbols == 1  # the dot of "1.2" and nothing else
    assert stats.alnum_ratio < 0.6 and stats.symbol_ratio == pytest.approx(1 / (stats.chars - stats.leaders))


@pytest.mark.parametrize(("text", "reason"), [
    ("short", "too_little_text"),
    ("\ufffd" * 20 + "valid text here", "bad_unicode"),
    ("\ue000\ue001 private use " * 5, "bad_unicode"),
    (SOUP, "symbol_soup"),
    ("#$%&'()*+,-./:;<=>?@[]^_`{|}~ " * 4 + "ok", "symbol_soup"),
    (SCATTERED, "foreign_script"),
    ("A perfectly normal sentence of text.", None),
    (TABLE, None),
    (CODE, None),
    (MATHS, None),
    (BILINGUAL, None),
    ("日本語の文書です。カタカナも漢字も使います。Latin words too. " * 3, None),
])
def test_text_verdict(text: str, reason: str | None) -> None:
    verdict = text_verdict(char_stats(text), CFG)
    assert (verdict[0] if verdict else None) == reason


def test_thresholds_are_configurable_and_named_in_the_detail() -> None:
    stats = char_stats(CODE)
    assert text_verdict(stats, OcrConfig(min_chars=10, max_symbol_ratio=0.2)) == (
        "symbol_soup", f"{stats.symbol_ratio:.2f} punctuation/symbols (leaders aside) > max_symbol_ratio=0.2")
    assert text_verdict(char_stats(SCATTERED), OcrConfig(min_chars=10, max_foreign_script_ratio=1.0)) is None


def test_table_of_contents_page_is_kept(tmp_path: Path) -> None:
    doc = pymupdf.open()
    toc_page(doc)
    doc.save(tmp_path / "toc.pdf")
    text = pymupdf.open(tmp_path / "toc.pdf")[0].get_text()
    assert char_stats(text).alnum_ratio < 0.4  # what the alphanumeric ratio alone rejected
    manifest = build([tmp_path / "toc.pdf"], tmp_path / "out", BUILD_CFG, progress=False)
    assert manifest["pages"]["kept"] == 1 and manifest["rejects"] == {}
    assert manifest["records_per_task"]["ocr_reading"] == 1
    assert manifest["pages"] == {"seen": 1, "kept": 1, "filtered": 0, "rejected": 0}
    number, title, at = TOC_ENTRIES[0]
    assert text.splitlines()[1:4] == [f"{number} {title}", " ".join("." * 55), str(at)]


def test_lines_with_unmapped_glyphs_are_flagged() -> None:
    assert has_bad_chars("x \ufffd y") and has_bad_chars("\ue001") and not has_bad_chars("Ünïcödé λ ∑ 日本")


def test_text_hash_normalises_case_and_whitespace() -> None:
    assert text_hash("Hello   World\n") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello world 2")
