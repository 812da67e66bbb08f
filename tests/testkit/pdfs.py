"""PDFs built on the fly with PyMuPDF for the OCR engine tests (known text at known positions)."""

from __future__ import annotations

import io
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


# --- pages that reproduce what real PDFs showed (issue 12) -------------------------------------------

def not_a_pdf(path: Path) -> Path:
    """A Markdown file named ``.pdf`` (MuPDF would open it as a text document)."""
    path.write_text("# Notes\n\n" + "Plain Markdown text that is no PDF at all, line after line.\n" * 30)
    return path


def truncated_pdf(path: Path, keep: float = 0.6) -> Path:
    """A three-page PDF cut after ``keep`` of its bytes (a download cut short)."""
    full = simple_pdf(path, 3, "cut")
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def story_page(doc: pymupdf.Document, html: str, width: float = 612, height: float = 792) -> pymupdf.Page:
    """A page laid out from HTML by MuPDF's Story (real tables, ``<pre>`` in a monospace font)."""
    story = pymupdf.Story(html)
    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    rect = pymupdf.Rect(0, 0, width, height)
    device = writer.begin_page(rect)
    story.place(rect + (72, 72, -72, -72))
    story.draw(device)
    writer.end_page()
    writer.close()
    doc.insert_pdf(pymupdf.open("pdf", buffer.getvalue()))
    return doc[-1]


TOC_ENTRIES = [(f"{i}.{j}", f"{title} {j}", 3 * i + j) for i, title in
               enumerate(["Installing the engine", "Rendering pages", "Reading order", "Quality filters",
                          "Writing shards", "Training recipes"], 1) for j in range(1, 5)]


def toc_page(doc: pymupdf.Document) -> pymupdf.Page:
    """A table of contents: each entry, a dot leader and its page number (few letters among the dots)."""
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 72), "Contents", fontsize=16, fontname="hebo")
    for k, (number, title, at) in enumerate(TOC_ENTRIES):
        y = 110 + 26 * k
        page.insert_text((72, y), f"{number} {title}", fontsize=11, fontname="helv")
        page.insert_text((250, y), " ".join("." * 55), fontsize=11, fontname="helv")
        page.insert_text((520, y), str(at), fontsize=11, fontname="helv")
    return page


TABLE_ROWS = [["Model", "VQA", "GQA", "TextVQA"], ["SPHINX", "78.1", "62.6", "51.6"],
              ["SPHINX-X", "81.1", "63.8", "68.0"], ["LLaVA", "78.5", "62.0", "58.2"]]
CODE = ["def read(page):", "    for line in page:", "        if line.text:", "            yield line.text",
        "    return None"]
PROSE = [
    "Multimodal language models read documents by looking at rendered pages and the text they hold.",
    "The table below lists the scores of three models on three benchmarks, higher is better.",
    "Each score is the accuracy on the validation split; the last column needs reading text.",
    "The code that reads a page is short; it yields every line of text that the page holds.",
]


def table_and_code_page(doc: pymupdf.Document) -> pymupdf.Page:
    """Prose, a bordered table, more prose, a ``<pre>`` code block and a last paragraph."""
    head = "".join(f"<th>{c}</th>" for c in TABLE_ROWS[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in TABLE_ROWS[1:])
    code = "\n".join(CODE)
    html = (f"<p>{PROSE[0]}</p><p>{PROSE[1]}</p><table border='1'><tr>{head}</tr>{body}</table>"
            f"<p>{PROSE[2]}</p><pre>{code}</pre><p>{PROSE[3]}</p>")
    return story_page(doc, html)


def code_listing_page(doc: pymupdf.Document) -> pymupdf.Page:
    """Courier lines placed one by one at x offsets (no leading spaces in the text), as listings do."""
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 80), PROSE[3], fontsize=10, fontname="helv")
    width = pymupdf.get_text_length(" ", fontname="cour", fontsize=10)
    for k, line in enumerate(CODE):
        text = line.lstrip(" ")
        page.insert_text((72 + width * (len(line) - len(text)), 110 + 12 * k), text, fontsize=10, fontname="cour")
    return page


HEADER = "Proceedings of the Workshop on Reading Pages, 2026"
BODY_LINES = 8  # per column


def body_column(side: str, page: int) -> list[str]:
    return [f"The {side} column, line {k} of the body text on page {page}." for k in range(1, BODY_LINES + 1)]


def furniture_pdf(path: Path, pages: int = 3) -> Path:
    """Two-column pages with a running header at the top and the page number under the left column,
    close to it: reading order alone reads the number between the columns."""
    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page(width=612, height=792)
        page.insert_text((330, 40), HEADER, fontsize=8, fontname="helv")
        page.insert_text((50, 660), "\n".join(body_column("left", n)), fontsize=8, fontname="helv")
        page.insert_text((330, 660), "\n".join(body_column("right", n)), fontsize=8, fontname="helv")
        page.insert_text((50, 765), str(n), fontsize=9, fontname="helv")
    doc.save(path)
    return path


BROKEN_LINE = "ABCD 2 + 3 = 5 then plain words"  # A-D come out as U+FFFD
_TO_FFFD = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Broken def /CMapType 2 def
1 begincodespacerange <00> <FF> endcodespacerange
4 beginbfchar <41> <FFFD> <42> <FFFD> <43> <FFFD> <44> <FFFD> endbfchar
endcmap CMapName currentdict /CMap defineresource pop end end"""


def unmapped_glyph_page(doc: pymupdf.Document) -> pymupdf.Page:
    """Two paragraphs in Helvetica and, between them, one line in a font whose ToUnicode map sends
    four glyphs to U+FFFD (what MuPDF reports for glyphs without Unicode)."""
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 100), "\n".join(PROSE[:2]), fontsize=10, fontname="helv")
    page.insert_text((72, 160), BROKEN_LINE, fontsize=10, fontname="tiro")
    page.insert_text((72, 220), "\n".join(PROSE[2:]), fontsize=10, fontname="helv")
    cmap = doc.get_new_xref()
    doc.update_object(cmap, "<<>>")
    doc.update_stream(cmap, _TO_FFFD)
    for xref, _, _, base, *_ in page.get_fonts():
        if base == "Times-Roman":
            doc.xref_set_key(xref, "ToUnicode", f"{cmap} 0 R")
    return page


HYPHENATED = [  # (line ending in a hyphen, next line) -> joined text
    ("Boxes of two lines are non-", "overlapping when they share no pixel.", "non-overlapping"),
    ("The values in a row are comma-", "separated and the file is plain text.", "comma-separated"),
    ("The text of this page is infor-", "mation that the model learns to read.", "information"),
    ("See https://example.org/docs/read-", "pages for the engine's manual.", "https://example.org/docs/read-pages"),
    ("It has to find some-", "thing in every line that it reads.", "something"),
]
VOCABULARY_LINE = "Every word here is one: a comma, some values separated by it, and lines that overlap."


def hyphenated_page(doc: pymupdf.Document) -> pymupdf.Page:
    """One paragraph per hyphenated pair (lines 12 pt apart), plus a line giving the vocabulary."""
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 80), VOCABULARY_LINE, fontsize=10, fontname="helv")
    for k, (first, second, _) in enumerate(HYPHENATED):
        page.insert_text((72, 130 + 50 * k), f"{first}\n{second}", fontsize=10, fontname="helv")
    return page
