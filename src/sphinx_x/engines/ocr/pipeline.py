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
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import pymupdf
from tqdm import tqdm

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import RecordError, validate_record
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.extract import PageText, extract_page, has_images, render_scale
from sphinx_x.engines.ocr.furniture import find_furniture
from sphinx_x.engines.ocr.hyphenation import Vocabulary
from sphinx_x.engines.ocr.pdf_file import PdfReject, open_pdf
from sphinx_x.engines.ocr.quality import char_stats, text_hash, text_verdict
from sphinx_x.engines.ocr.render import render_page
from sphinx_x.engines.ocr.shard_writer import PageOut, PdfResult, ShardWriter, settings_of
from sphinx_x.engines.ocr.tasks import PageInfo, page_records
from sphinx_x.engines.ocr.worker_lifetime import die_with_parent

log = logging.getLogger(__name__)
PdfTask = tuple[str, str]  # (path on disk, identity written to done.jsonl and meta)
OnPage = Callable[[], None]


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
    ``max_pdfs`` stops after that many PDFs (a later call resumes). The output folder keeps the
    settings it was built with; resuming it with others raises ``SettingsMismatch``, and a folder
    another live build writes raises ``OutputLocked``. The manifest's ``last_run`` says what this
    call found, skipped (done before) and processed.
    """
    cfg = cfg or OcrConfig()
    pdfs = discover(inputs)
    writer = ShardWriter(out, cfg.shard_pages, settings_of(cfg))
    todo = [task for task in pdfs if task[1] not in writer.finished]
    if max_pdfs is not None:
        todo = todo[:max_pdfs]
    run = {"pdfs_found": len(pdfs), "pdfs_skipped": len(pdfs) - len([t for t in pdfs if t[1] not in writer.finished]),
           "pdfs_processed": 0, "pages_seen": 0, "pages_kept": 0}
    log.info("%d PDFs found: %d already done (skipped), %d to process now", len(pdfs), run["pdfs_skipped"], len(todo))
    try:
        with tqdm(unit="page", desc="ocr", disable=not progress, dynamic_ncols=True) as bar:
            bar.set_postfix_str(f"pdf 0/{len(todo)}")
            with _results(todo, cfg, workers, pdf_timeout, bar.update) as results:
                for result in results:
                    entry = writer.commit(result, cfg.dedup)
                    run["pdfs_processed"] += 1
                    run["pages_seen"] += entry["pages_seen"]
                    run["pages_kept"] += entry["pages"]
                    bar.set_postfix_str(f"pdf {run['pdfs_processed']}/{len(todo)}, kept {run['pages_kept']} pages")
    finally:
        manifest = writer.close(cfg.to_dict(), run)
    return manifest


@contextlib.contextmanager
def _results(todo: list[PdfTask], cfg: OcrConfig, workers: int, timeout: float,
             pages_done: Callable[[int], Any]) -> Iterator[Iterator[PdfResult]]:
    if workers <= 0:
        yield (process_pdf(path, ident, cfg, lambda: pages_done(1)) for path, ident in todo)
        return
    context = mp.get_context("spawn" if os.name == "nt" else "fork")
    counter = context.Value("q", 0)
    pool = context.Pool(workers, _init_worker, (cfg, counter, os.getpid()))
    try:
        yield _in_order(pool, todo, 4 * workers, timeout, _CounterWatch(counter, pages_done))
    finally:
        pool.terminate()
        pool.join()


class _CounterWatch:
    """Reports the growth of the workers' shared page counter to ``pages_done``."""

    def __init__(self, counter: Any, pages_done: Callable[[int], Any]):
        self.counter, self.pages_done, self.seen = counter, pages_done, 0

    def __call__(self) -> None:
        now = self.counter.get_obj().value  # no lock: a worker killed while holding it must not stall us
        if now > self.seen:
            self.pages_done(now - self.seen)
            self.seen = now


def _in_order(pool: Pool, todo: list[PdfTask], window: int, timeout: float,
              tick: Callable[[], None]) -> Iterator[PdfResult]:
    """Results in input order with at most ``window`` PDFs submitted and not yet consumed; ``tick``
    runs a few times a second while waiting (progress)."""
    tasks = iter(todo)
    pending: deque[tuple[str, AsyncResult]] = deque(
        (t[1], pool.apply_async(_work, (t,))) for t in itertools.islice(tasks, window))
    while pending:
        ident, job = pending.popleft()
        deadline = time.monotonic() + timeout
        while not job.ready() and time.monotonic() < deadline:
            job.wait(min(0.25, max(0.0, deadline - time.monotonic())))
            tick()
        if job.ready():
            result = job.get()
        else:
            result = _pdf_reject(PdfResult(ident), "pdf_timeout", f"no result after {timeout:g} s (worker crashed or hung)")
        tick()
        for task in itertools.islice(tasks, 1):
            pending.append((task[1], pool.apply_async(_work, (task,))))
        yield result


_CFG: OcrConfig | None = None
_PAGES: Any = None


def _init_worker(cfg: OcrConfig, pages: Any, parent: int) -> None:
    global _CFG, _PAGES
    _CFG, _PAGES = cfg, pages
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    die_with_parent(parent)


def _count_page() -> None:
    with _PAGES.get_lock():
        _PAGES.value += 1


def _work(task: PdfTask) -> PdfResult:
    assert _CFG is not None
    return process_pdf(task[0], task[1], _CFG, _count_page)


def process_pdf(path: str, ident: str, cfg: OcrConfig, on_page: OnPage | None = None) -> PdfResult:
    """All pages of one PDF; never raises: unreadable PDFs and pages become rejects. ``on_page``
    is called after each page (progress)."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    result = PdfResult(ident)
    try:
        doc = open_pdf(path)
    except PdfReject as e:
        return _pdf_reject(result, e.reason, e.detail)
    try:
        with doc:
            _process_doc(doc, ident, cfg, result, on_page or (lambda: None))
    except Exception as e:  # noqa: BLE001
        result.pages.clear()
        result.rejects = [r for r in result.rejects if r["page"] is None]
        result.pages_seen = 0
        return _pdf_reject(result, "pdf_error", f"{type(e).__name__}: {e}")
    finally:
        pymupdf.TOOLS.store_shrink(100)
    result.rejects.sort(key=lambda r: -1 if r["page"] is None else r["page"])
    return result


def _process_doc(doc: pymupdf.Document, ident: str, cfg: OcrConfig, result: PdfResult, on_page: OnPage) -> None:
    """Extract every page first (the document's vocabulary and its running headers and footers
    need them all), then filter, render and build each page's records."""
    prompts = PromptPool(seed=cfg.seed)
    doc_id = document_id(ident)
    extracted: list[tuple[int, PageText, float, bool]] = []
    for index in range(min(doc.page_count, cfg.max_pages_per_pdf or doc.page_count)):
        result.pages_seen += 1
        try:
            scale, downscaled = render_scale(doc[index], cfg)
            extracted.append((index, extract_page(doc[index], scale, cfg, figures="layout" in cfg.tasks), scale,
                              downscaled))
        except Exception as e:  # noqa: BLE001 - one bad page must not lose the PDF
            _page_reject(result, index, "page_error", f"{type(e).__name__}: {e}")
            on_page()
    vocab = Vocabulary.from_texts(ln.text for _, text, _, _ in extracted for ln in text.lines)
    furniture = find_furniture([([(ln.text, ln.box) for ln in text.lines], text.size[1])
                                for _, text, _, _ in extracted], cfg.margin)
    for (index, text, scale, downscaled), lines in zip(extracted, furniture, strict=True):
        for i in lines:
            text.lines[i].furniture = True
        text.stats["furniture_lines"] += len(lines)
        text.join(vocab)
        try:
            page = _process_page(doc[index], index, text, scale, downscaled, doc_id, ident, cfg, prompts, result)
        except Exception as e:  # noqa: BLE001 - one bad page must not lose the PDF
            page = _page_reject(result, index, "page_error", f"{type(e).__name__}: {e}")
        if page is not None:
            result.pages.append(page)
        on_page()


def document_id(ident: str) -> str:
    """A tar-safe key prefix: the file stem (letters, digits, - and _) plus a hash of the identity."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(ident).stem)[:40] or "pdf"
    return f"{stem}-{hashlib.blake2b(ident.encode(), digest_size=4).hexdigest()}"


def _process_page(page: pymupdf.Page, index: int, text: PageText, scale: float, downscaled: bool, doc_id: str,
                  ident: str, cfg: OcrConfig, prompts: PromptPool, result: PdfResult) -> PageOut | None:
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
    return PageOut(key, index, rendered.png, doc, text_hash(text.body_text or full_text), stats)


def _pdf_reject(result: PdfResult, reason: str, detail: str) -> PdfResult:
    result.rejects.append({"pdf": result.pdf, "page": None, "reason": reason, "detail": detail})
    return result


def _page_reject(result: PdfResult, page: int, reason: str, detail: str) -> None:
    result.rejects.append({"pdf": result.pdf, "page": page, "reason": reason, "detail": detail})
