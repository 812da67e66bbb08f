"""Time the OCR engine against plain PyMuPDF rendering + text extraction of the same pages.

Both run in this process (engine ``workers=0``) on one core over the same generated PDFs (built with PyMuPDF: two-column
text-dense pages, three fonts, coloured headings, an embedded image on every third page):

- engine: ``sphinx_x.engines.ocr.pipeline.build`` (filters, words/lines/blocks, all five tasks,
  PNG + JSON written to tar shards, done-list, manifest);
- pymupdf: per page ``page.get_pixmap(dpi)`` + ``pix.save(png)`` + ``page.get_text("dict")``.

The best of ``--repeats`` alternating rounds is kept. ``overhead_ratio`` = engine seconds per page /
pymupdf seconds per page (<= 1.25 is the target). Also reported: the same PyMuPDF loop without
writing PNGs, to show what the image encoding costs.

    python scripts/benchmark_ocr_engine.py --out experiments/benchmarks/ocr_engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.pipeline import build

WORDS = ("model data page text layout reading order column token image training vision language "
         "document information retrieval benchmark resolution encoder expert mixture sample answer "
         "question region box render quality filter unicode paragraph figure table caption").split()


def make_pdfs(folder: Path, n_pdfs: int, pages: int, seed: int = 0) -> int:
    """Text-dense two-column PDFs with distinct pages; returns the number of pages."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 120, 80), False)
    for d in range(n_pdfs):
        doc = pymupdf.open()
        for p in range(pages):
            page = doc.new_page(width=612, height=792)
            page.insert_text((50, 60), f"Section {d}.{p}: {' '.join(rng.choices(WORDS, k=6))}", fontsize=15,
                             fontname="hebo", color=(0.1, 0.2, 0.6))
            top = 90
            if p % 3 == 0:
                pix.set_rect(pix.irect, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
                page.insert_image(pymupdf.Rect(50, 90, 290, 250), pixmap=pix)
                top = 270
            for col, (x, font) in enumerate(((50, "helv"), (322, "tiro"))):
                y = top if col == 0 else 90
                while y < 740:
                    lines = [" ".join(rng.choices(WORDS, k=7)) for _ in range(rng.randint(4, 9))]
                    page.insert_text((x, y), "\n".join(lines), fontsize=9, fontname=font)
                    y += 11 * len(lines) + 8
        doc.save(folder / f"doc{d:03d}.pdf")
    return n_pdfs * pages


def time_engine(pdfs: Path, out: Path, dpi: float) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    manifest = build([pdfs], out, OcrConfig(dpi=dpi), workers=0, progress=False)
    return time.perf_counter() - start, manifest["pages"]["kept"]


def time_pymupdf(pdfs: Path, out: Path, dpi: float, write_png: bool = True) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pages = 0
    start = time.perf_counter()
    for path in sorted(pdfs.glob("*.pdf")):
        with pymupdf.open(path) as doc:
            for page in doc:
                pix = page.get_pixmap(dpi=round(dpi))
                if write_png:
                    pix.save(out / f"{path.stem}_{page.number}.png")
                page.get_text("dict")
                pages += 1
    return time.perf_counter() - start, pages


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pdfs", type=int, default=8)
    p.add_argument("--pages", type=int, default=25, help="pages per PDF")
    p.add_argument("--dpi", type=float, default=144.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="experiments/benchmarks/ocr_engine.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n_pages = make_pdfs(work / "pdfs", args.pdfs, args.pages)
        engine, plain, no_png = [], [], []
        for _ in range(args.repeats):
            engine.append(time_engine(work / "pdfs", work / "engine", args.dpi))
            plain.append(time_pymupdf(work / "pdfs", work / "plain", args.dpi))
            plain_bytes = sum(f.stat().st_size for f in (work / "plain").glob("*.png"))
            no_png.append(time_pymupdf(work / "pdfs", work / "no_png", args.dpi, write_png=False))
        engine_bytes = sum(f.stat().st_size for f in (work / "engine").glob("shard-*.tar"))
    assert all(pages == n_pages for _, pages in engine + plain), "every generated page must pass the filters"
    best = {name: min(t for t, _ in runs) for name, runs in (("engine", engine), ("plain", plain), ("no_png", no_png))}
    result = {
        "engine_pages_per_s": round(n_pages / best["engine"], 2),
        "pymupdf_pages_per_s": round(n_pages / best["plain"], 2),
        "overhead_ratio": round(best["engine"] / best["plain"], 3),
        "pages": n_pages,
        "command": " ".join(["python scripts/benchmark_ocr_engine.py", *(argv if argv is not None else sys.argv[1:])]),
        "pymupdf_without_png_pages_per_s": round(n_pages / best["no_png"], 2),
        "engine_shard_bytes_per_page": engine_bytes // n_pages,
        "pymupdf_png_bytes_per_page": plain_bytes // n_pages,
        "dpi": args.dpi,
        "workers": 0,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pymupdf": pymupdf.VersionBind,
                    "platform": platform.platform()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
