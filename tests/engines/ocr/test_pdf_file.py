"""Only real PDFs are opened: other files are ``not_pdf``, cut-short or unrecoverable ones ``corrupt_pdf``."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from sphinx_x.data.ocr.shards import REJECTS
from sphinx_x.engines.ocr.pdf_file import PdfReject, open_pdf
from sphinx_x.engines.ocr.pipeline import build, process_pdf
from tests.testkit.pdfs import CFG, not_a_pdf, simple_pdf, truncated_pdf


def reject_of(path: Path) -> tuple[str, str]:
    with pytest.raises(PdfReject) as caught:
        open_pdf(str(path))
    return caught.value.reason, caught.value.detail


def test_a_text_file_named_pdf_is_not_pdf(tmp_path: Path) -> None:
    path = not_a_pdf(tmp_path / "notes.pdf")
    assert pymupdf.open(path, filetype="pdf").page_count > 0  # MuPDF alone would read it as pages
    assert reject_of(path) == ("not_pdf", "no %PDF- header in the first 1024 bytes (starts b'# Notes\\n\\nPlain M')")


def test_a_pdf_header_on_garbage_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "image.pdf"
    path.write_bytes(b"%PDF-" + b"\x89PNG" * 10)
    assert reject_of(path) == ("corrupt_pdf", f"FileDataError: Failed to open file {str(path)!r} as type pdf.")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_truncated_pdf_is_corrupt(tmp_path: Path, keep: float) -> None:
    path = truncated_pdf(tmp_path / "cut.pdf", keep)
    assert reject_of(path) == ("corrupt_pdf", "truncated: no %%EOF in the last 8192 bytes")


def handmade_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF with a correct cross-reference table over ``objects`` (object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_repaired_pdf_without_pages_is_corrupt_and_a_pageless_one_empty(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj\n<</Type/Catalog>>\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n")
    assert reject_of(broken) == ("corrupt_pdf", "damaged: MuPDF's repair recovered no page")
    empty = handmade_pdf(tmp_path / "empty.pdf", [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Count 0/Kids[]>>"])
    assert reject_of(empty) == ("empty_pdf", "no pages")


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert reject_of(tmp_path / "empty.pdf") == ("empty_pdf", "file has 0 bytes")
    assert reject_of(tmp_path / "missing.pdf")[0] == "pdf_error"
    assert process_pdf(str(tmp_path / "missing.pdf"), "missing.pdf", CFG).rejects[0]["reason"] == "pdf_error"


def test_build_rejects_them_and_trains_on_none_of_their_pages(tmp_path: Path) -> None:
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    not_a_pdf(pdfs / "a_notes.pdf")
    truncated_pdf(pdfs / "b_cut.pdf")
    simple_pdf(pdfs / "c_good.pdf", 2, "good")
    manifest = build([pdfs], tmp_path / "out", CFG, progress=False)
    assert manifest["rejects"] == {"not_pdf": 1, "corrupt_pdf": 1}
    assert manifest["pdfs"] == {"seen": 3, "kept": 1, "filtered": 0, "rejected": 2}
    assert manifest["pages"] == {"seen": 2, "kept": 2, "filtered": 0, "rejected": 0}
    lines = [json.loads(line) for line in (tmp_path / "out" / REJECTS).read_text().splitlines()]
    assert [(r["pdf"], r["page"], r["reason"]) for r in lines] == [("a_notes.pdf", None, "not_pdf"),
                                                                  ("b_cut.pdf", None, "corrupt_pdf")]
