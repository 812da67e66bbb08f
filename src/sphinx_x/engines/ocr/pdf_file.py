"""Opening one input file as a PDF, or saying in one reason why it is none (or is unusable).

MuPDF opens almost anything (Markdown, images, half a PDF repaired), so the file is checked first:
the ``%PDF-`` header within the first 1024 bytes, the ``%%EOF`` marker near the end (a download cut
short has none), then MuPDF's own verdict (``is_pdf``, repairs, password, pages).
"""

from __future__ import annotations

import os

import pymupdf

HEADER = b"%PDF-"
HEADER_WINDOW = 1024  # the PDF spec lets the header start anywhere in the first 1024 bytes
EOF_MARKER = b"%%EOF"
EOF_WINDOW = 8192  # bytes searched for %%EOF at the end (some writers append a little after it)
PDF_REJECTS = ("not_pdf", "corrupt_pdf", "encrypted_pdf", "empty_pdf", "pdf_error", "pdf_timeout")


class PdfReject(Exception):
    """A file that is not a usable PDF; ``reason`` is one of :data:`PDF_REJECTS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def open_pdf(path: str) -> pymupdf.Document:
    """The opened PDF; :class:`PdfReject` when the file cannot be read, is empty, is not a PDF, is
    truncated, is damaged beyond repair (no page left), is encrypted, or has no pages."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(HEADER_WINDOW)
            f.seek(max(0, size - EOF_WINDOW))
            tail = f.read()
    except OSError as e:
        raise PdfReject("pdf_error", f"cannot read the file: {e.strerror or e}") from None
    if size == 0:
        raise PdfReject("empty_pdf", "file has 0 bytes")
    if HEADER not in head:
        raise PdfReject("not_pdf", f"no %PDF- header in the first {HEADER_WINDOW} bytes (starts {head[:16]!r})")
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # noqa: BLE001 - MuPDF raises several types for broken files
        raise PdfReject("corrupt_pdf", f"{type(e).__name__}: {e}") from None
    try:
        _check(doc, tail)
    except PdfReject:
        doc.close()
        raise
    return doc


def _check(doc: pymupdf.Document, tail: bytes) -> None:
    if not doc.is_pdf:
        raise PdfReject("not_pdf", f"MuPDF reads it as {doc.metadata.get('format') or 'another format'}")
    if EOF_MARKER not in tail:
        raise PdfReject("corrupt_pdf", f"truncated: no %%EOF in the last {EOF_WINDOW} bytes")
    if doc.needs_pass and not doc.authenticate(""):
        raise PdfReject("encrypted_pdf", "needs a password")
    if doc.page_count == 0:
        if doc.is_repaired:
            raise PdfReject("corrupt_pdf", "damaged: MuPDF's repair recovered no page")
        raise PdfReject("empty_pdf", "no pages")
