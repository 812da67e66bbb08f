"""The OCR engine: PDFs -> filtered, rendered pages -> Records in shards, in parallel, resumable."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import multiprocessing as mp
import os
import re
import signal
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import pymupdf
from tqdm import tqdm

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import RecordError, validate_record
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.extract import extract_page, has_images, render_scale
from sphinx_x.engines.ocr.quality import char_stats, text_hash, text_verdict
from sphinx_x.engines.ocr.render import render_page
from sphinx_x.engines.ocr.shard_writer import PageOut, PdfResult, ShardWriter
from sphinx_x.engines.ocr.tasks import PageInfo, page_records

log = logging.getLogger(__name__)
PdfTask = tuple[str, str]  # (path on disk, identity written to done.jsonl and meta)


def discover(inputs: Iterable[str | Path]) -> list[PdfTask]:
    """PDFs from folders (recursive, sorted), list files (one path per line) and single PDFs.

    The identity of a PDF is its path relative to the folder it was found in, or the path as
    written in the list file / on the command line; it names the PDF in done.jsonl and in meta.
    """
    found: list[PdfTask] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths = sorted(p for p in item.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
            found += [(str(p), p.relative_to(item).as_posix()) for p in paths]
        elif item.suffix.lower() == ".pdf":
            found.append((str(item), item.name))
        elif item.is_file():
            lines = [ln.strip() for ln in item.read_text().splitlines()]
            found += [(ln, ln) for ln in lines if ln and not ln.startswith("#")]
        else:
            raise FileNotFoundError(f"--input {item}: not a folder, a .pdf or a list file")
    unique: dict[str, PdfTask] = {}
    for path, ident in found:
        if ident in unique:
            log.warning("skipping %s: a PDF named %s is already listed", path, ident)
            continue
        unique[ident] = (path, ident)
    return list(unique.values())


def build(inputs: Iterable[str | Path], out: str | Path, cfg: OcrConfig | None = None, workers: int = 0,
          max_pdfs: int | None = None, progress: bool = True, pdf_timeout: float = 900.0) -> dict[str, Any]:
    """Process every PDF not yet in ``out``/done.jsonl; returns the manifest.

    ``workers`` = 0 works in this process; >= 1 uses that many worker processes, which also isolates
    crashes: a PDF whose result does not arrive within ``pdf_timeout`` seconds (its worker died or
    hung) is rejected as ``pdf_timeout``. Results are written by this process only, in input order
    (a bounded window of PDFs is in flight), so the output does not depend on ``workers``.
    ``max_pdfs`` stops after that many PDFs (a later call resumes).
    """
    cfg = cfg or OcrConfig()
    pdfs = discover(inputs)
    writer = ShardWriter(out, cfg.shard_pages)
    todo = [task for task in pdfs if task[1] not in writer.finished]
    if max_pdfs is not None:
        todo = todo[:max_pdfs]
    try:
        with _results(todo, cfg, workers, pdf_timeout) as results, tqdm(total=len(todo), unit="pdf", disable=not progress,
                                                           desc="ocr") as bar:
            for result in results:
                writer.commit(result, cfg.dedup)
                bar.update(1)
                bar.set_postfix(pages=writer.pages_written)
    finally:
        manifest = writer.close(cfg.to_dict())
    return manifest


@contextlib.contextmanager
def _results(todo: list[PdfTask], cfg: OcrConfig, workers: int, timeout: float) -> Iterator[Iterator[PdfResult]]:
    if workers <= 0:
        yield (process_pdf(path, ident, cfg) for path, ident in todo)
        return
    pool = mp.get_context("spawn" if os.name == "nt" else "fork").Pool(workers, _init_worker, (cfg,))
    try:
        yield _in_order(pool, todo, 4 * workers, timeout)
    finally:
        pool.terminate()
        pool.join()


def _in_order(pool: Pool, todo: list[PdfTask], window: int, timeout: float) -> Iterator[PdfResult]:
    """Results in input order with at most ``window`` PDFs submitted and not yet consumed."""
    tasks = iter(todo)
    pending: deque[tuple[str, AsyncResult]] = deque(
        (t[1], pool.apply_async(_work, (t,))) for t in itertools.islice(tasks, window))
    while pending:
        ident, job = pending.popleft()
        try:
            result = job.get(timeout)
        except mp.TimeoutError:
            result = _pdf_reject(PdfResult(ident), "pdf_timeout", f"no result after {timeout:g} s (worker crashed or hung)")
        for task in itertools.islice(tasks, 1):
            pending.append((task[1], pool.apply_async(_work, (task,))))
        yield result


_CFG: OcrConfig | None = None


def _init_worker(cfg: OcrConfig) -> None:
    global _CFG
    _CFG = cfg
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool


def _work(task: PdfTask) -> PdfResult:
    assert _CFG is not None
    return process_pdf(task[0], task[1], _CFG)


def process_pdf(path: str, ident: str, cfg: OcrConfig) -> PdfResult:
    """All pages of one PDF; never raises: unreadable PDFs and pages become rejects."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    result = PdfResult(ident)
    try:
        if os.path.getsize(path) == 0:
            return _pdf_reject(result, "empty_pdf", "file has 0 bytes")
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # noqa: BLE001 - MuPDF raises several types for broken files
        return _pdf_reject(result, "corrupt_pdf", f"{type(e).__name__}: {e}")
    try:
        with doc:
            _process_doc(doc, ident, cfg, result)
    except Exception as e:  # noqa: BLE001
        result.pages.clear()
        return _pdf_reject(result, "pdf_error", f"{type(e).__name__}: {e}")
    finally:
        pymupdf.TOOLS.store_shrink(100)
    return result


def _process_doc(doc: pymupdf.Document, ident: str, cfg: OcrConfig, result: PdfResult) -> None:
    if doc.needs_pass and not doc.authenticate(""):
        _pdf_reject(result, "encrypted_pdf", "needs a password")
        return
    if doc.page_count == 0:
        _pdf_reject(result, "empty_pdf", "no pages")
        return
    prompts = PromptPool(seed=cfg.seed)
    doc_id = document_id(ident)
    for index in range(min(doc.page_count, cfg.max_pages_per_pdf or doc.page_count)):
        try:
            page = _process_page(doc[index], index, doc_id, ident, cfg, prompts, result)
        except Exception as e:  # noqa: BLE001 - one bad page must not lose the PDF
            page = _page_reject(result, index, "page_error", f"{type(e).__name__}: {e}")
        if page is not None:
            result.pages.append(page)


def document_id(ident: str) -> str:
    """A tar-safe key prefix: the file stem (letters, digits, - and _) plus a hash of the identity."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(ident).stem)[:40] or "pdf"
    return f"{stem}-{hashlib.blake2b(ident.encode(), digest_size=4).hexdigest()}"


def _process_page(page: pymupdf.Page, index: int, doc_id: str, ident: str, cfg: OcrConfig, prompts: PromptPool,
                  result: PdfResult) -> PageOut | None:
    scale, downscaled = render_scale(page, cfg)
    text = extract_page(page, scale, cfg, figures="layout" in cfg.tasks)
    if not text.lines:
        if text.invisible_chars:
            return _page_reject(result, index, "invisible_text_only", "only invisible text (an OCR layer over a scan)")
        if text.stats["vertical_lines"]:
            return _page_reject(result, index, "vertical_text_only", "all text runs vertically")
        if has_images(page):
            return _page_reject(result, index, "no_text_layer", "image-only page (scanned, no text layer)")
        return _page_reject(result, index, "empty_page", "no text")
    full_text = text.text
    verdict = text_verdict(char_stats(full_text), cfg)
    if verdict is not None:
        return _page_reject(result, index, *verdict)
    rendered = render_page(page, text.render_matrix, cfg.png_level)
    width, height = rendered.width, rendered.height
    text.shift(*rendered.origin)
    text.clip(width, height)
    key = f"{doc_id}_p{index:05d}"
    info = PageInfo(key, ident, index, width, height)
    records = page_records(info, text, cfg, prompts)
    if not records:
        return _page_reject(result, index, "no_usable_text", "no line left with a box inside the image")
    try:
        for record in records:
            validate_record(record, [(width, height)])
    except RecordError as e:
        return _page_reject(result, index, "invalid_record", str(e))
    stats = text.stats + Counter(pages_rotated=int(page.rotation != 0), pages_downscaled=int(downscaled))
    doc = {"key": key, "pdf": ident, "page": index, "width": width, "height": height,
           "rotation": page.rotation, "turn": text.turn, "scale": round(scale, 6), "records": records, "text": text.to_json()}
    return PageOut(key, index, rendered.png, doc, text_hash(full_text), stats)


def _pdf_reject(result: PdfResult, reason: str, detail: str) -> PdfResult:
    result.rejects.append({"pdf": result.pdf, "page": None, "reason": reason, "detail": detail})
    return result


def _page_reject(result: PdfResult, page: int, reason: str, detail: str) -> None:
    result.rejects.append({"pdf": result.pdf, "page": page, "reason": reason, "detail": detail})
