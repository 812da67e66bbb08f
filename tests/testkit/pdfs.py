"""PDFs built on the fly with PyMuPDF for the OCR engine tests (known text at known positions)."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from sphinx_x.engines.ocr.config import OcrConfig

CFG = OcrConfig(dpi=72, shard_pages=2)  # small pages and shards keep the tests fast

LEFT = [
    "Document understanding needs models that read every word of a page.",
    "We render each page with PyMuPDF and keep all of its text with boxes.",
    "The quality filters remove pages without useful text, and the infor-",
    "mation that remains is turned into questions and answers for training.",
    "Two columns must be read column by column, never line by line across.",
]
RIGHT = [
    "The right column starts here and continues the discussion of layout.",
    "Reading order follows blocks: first the left column, then the right.",
    "Boxes are written in the pixels of the rendered page image at any DPI.",
    "Rotated pages keep their boxes aligned with what the renderer shows.",
]
TITLE = "A Study of Text-Rich Page Rendering"
KNOWN = "Known text at a known position"
KNOWN_AT = (72.0, 700.0)  # baseline origin in points
KNOWN_SIZE = 12.0


def text_page(doc: pymupdf.Document, salt: str = "", width: float = 612, height: float = 792) -> pymupdf.Page:
    """Title, two columns in two fonts (Helvetica left, Times right) and one line at ``KNOWN_AT``."""
    page = doc.new_page(width=width, height=height)
    page.insert_text((72, 60), TITLE + salt, fontsize=16, fontname="helv")
    page.insert_text((50, 120), "\n".join(LEFT), fontsize=7, fontname="helv")
    page.insert_text((330, 120), "\n".join(RIGHT), fontsize=7, fontname="tiro")
    page.insert_text(KNOWN_AT, KNOWN, fontsize=KNOWN_SIZE, fontname="helv")
    return page


def image_only_page(doc: pymupdf.Document) -> None:
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pix.set_rect(pix.irect, (200, 30, 30))
    page.insert_image(pymupdf.Rect(50, 50, 550, 700), pixmap=pix)


def build_corpus(folder: Path) -> Path:
    """A folder of PDFs covering the engine's cases; returns it.

    - ``a_columns.pdf``: 3 text pages (two columns, two fonts); page 2 repeats page 0's text.
    - ``b_mixed.pdf``: a rotated text page, an empty page, an image-only page, a page with too
      little text, a page of symbols, and text drawn invisibly over an image.
    - ``c_dup.pdf``: one page identical to ``a_columns.pdf`` page 1.
    - ``d_corrupt.pdf``, ``e_encrypted.pdf``, ``f_empty.pdf``: unreadable files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    text_page(doc, " I")
    text_page(doc, " II")
    text_page(doc, " I")
    doc.save(folder / "a_columns.pdf")

    doc = pymupdf.open()
    rotated = text_page(doc, " rotated")
    rotated.set_rotation(90)
    doc.new_page()
    image_only_page(doc)
    doc.new_page().insert_text((72, 72), "Too short.", fontsize=12)
    doc.new_page().insert_text((72, 72), "\n".join(["%%% *** ### @@@ !!! ??? +++ === ~~~ ^^^ ((( )))"] * 6), fontsize=10)
    image_only_page(doc)
    doc[-1].insert_text((72, 72), "\n".join(LEFT), fontsize=9, render_mode=3)
    doc.save(folder / "b_mixed.pdf")

    doc = pymupdf.open()
    text_page(doc, " II")
    (folder / "sub").mkdir(exist_ok=True)
    doc.save(folder / "sub" / "c_dup.pdf")

    (folder / "d_corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    doc = pymupdf.open()
    text_page(doc, " secret")
    doc.save(folder / "e_encrypted.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    (folder / "f_empty.pdf").write_bytes(b"")
    return folder


def simple_pdf(path: Path, pages: int, salt: str) -> Path:
    """``pages`` distinct text pages."""
    doc = pymupdf.open()
    for i in range(pages):
        text_page(doc, f" {salt} {i}")
    doc.save(path)
    return path
