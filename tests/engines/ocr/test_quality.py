"""Page-text quality filters: character statistics, verdicts and the duplicate-page hash."""

from __future__ import annotations

import pytest

from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.quality import char_stats, text_hash, text_verdict

CFG = OcrConfig(min_chars=10)


def test_char_stats_count_invalid_unicode() -> None:
    stats = char_stats("ab\ufffd\ue000 c\x07d 12\U000f0001 \u0378")
    assert (stats.chars, stats.bad, stats.alnum) == (11, 5, 6)


@pytest.mark.parametrize(("text", "reason"), [
    ("short", "too_little_text"),
    ("\ufffd" * 20 + "valid text here", "bad_unicode"),
    ("\ue000\ue001 private use " * 5, "bad_unicode"),
    ("%% ** ## @@ !! ?? ++ == -- .. ,, ;; a", "symbol_soup"),
    ("A perfectly normal sentence of text.", None),
])
def test_text_verdict(text: str, reason: str | None) -> None:
    verdict = text_verdict(char_stats(text), CFG)
    assert (verdict[0] if verdict else None) == reason


def test_text_hash_normalises_case_and_whitespace() -> None:
    assert text_hash("Hello   World\n") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello world 2")
