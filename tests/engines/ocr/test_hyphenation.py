"""Line-end hyphens: the typesetter's are removed, the word's own kept (document vocabulary + a small list)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.hyphenation import Vocabulary, join_lines, keeps_hyphen
from sphinx_x.engines.ocr.pipeline import process_pdf
from tests.testkit.pdfs import HYPHENATED, VOCABULARY_LINE, hyphenated_page

VOCAB = Vocabulary.from_texts([VOCABULARY_LINE, "The data-set is a well-known benchmark."])


@pytest.mark.parametrize(("left", "right", "kept"), [
    ("infor", "mation", False),  # neither half is a word
    ("non", "overlapping", True),  # a prefix and a word, and "nonoverlapping" is none
    ("comma", "separated", True),  # both halves in the document, the joined form nowhere
    ("some", "thing", False),  # a shipped closed compound
    ("with", "out", False),
    ("data", "set", True),  # seen hyphenated in the document
    ("https://example.org/read", "pages", True),  # a URL keeps its hyphen
    ("state-of-the", "art", True),
    ("inter", "est", False),  # a prefix, but "est" is no word
])
def test_keeps_hyphen(left: str, right: str, kept: bool) -> None:
    assert keeps_hyphen(left, right, VOCAB) is kept


def test_a_joined_form_seen_in_the_document_wins() -> None:
    vocab = Vocabulary.from_texts(["Our commaseparated format", "a comma", "separated by"])
    assert not keeps_hyphen("comma", "separated", vocab)


def test_join_lines_merges_hyphenation_only_before_lowercase() -> None:
    assert join_lines(["the infor-", "mation age"]) == ("the information age", 1)
    assert join_lines(["see Fig-", "Ure 3"]) == ("see Fig- Ure 3", 0)
    assert join_lines(["state-of-the-", "art"]) == ("state-of-the-art", 1)
    assert join_lines(["1990-", "1995"]) == ("1990- 1995", 0)
    assert join_lines(["soft\u00ad", "hyphen"]) == ("softhyphen", 1)


def test_hyphenated_compounds_in_a_pdf(tmp_path: Path) -> None:
    doc = pymupdf.open()
    hyphenated_page(doc)
    doc.save(tmp_path / "hyphens.pdf")
    result = process_pdf(str(tmp_path / "hyphens.pdf"), "hyphens.pdf", OcrConfig(dpi=72, tasks=("reading",)))
    answer = result.pages[0].doc["records"][0]["messages"][1]["content"]
    expected = [f"{first.rsplit(' ', 1)[0]} {word} {second.split(' ', 1)[1]}" for first, second, word in HYPHENATED]
    assert answer.split("\n") == [VOCABULARY_LINE, *expected]
    assert result.pages[0].stats["dehyphenated"] == len(HYPHENATED)
