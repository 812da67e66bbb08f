"""``sphinx-x-build-ocr``: build the OCR-intensive dataset from PDFs (see docs/ocr.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from sphinx_x.engines.ocr.config import FURNITURE, TASKS, OcrConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults are :class:`OcrConfig`'s."""
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    """Every option with its help text; ``-h`` shows each default."""
    d = OcrConfig()
    p = argparse.ArgumentParser(prog="sphinx-x-build-ocr", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--input", action="append", required=True,
                   help="folder of PDFs (recursive), a .pdf, or a text file with one PDF path per line; repeatable")
    p.add_argument("--out", required=True, help="output folder (shards, done.jsonl, rejects.jsonl, manifest.json)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (0 = work in this process, without crash isolation)")
    p.add_argument("--pdf-timeout", type=float, default=900.0,
                   help="seconds to wait for one PDF before rejecting it as pdf_timeout (worker crashed or hung)")
    p.add_argument("--max-pdfs", type=int, default=None, help="stop after this many PDFs (rerun to continue)")
    p.add_argument("--dpi", type=float, default=d.dpi, help="page rendering resolution")
    p.add_argument("--longest-side", type=int, default=None, help="render the long page edge at this many pixels")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, help="larger pages are rendered smaller")
    p.add_argument("--png-level", type=int, default=d.png_level, help="zlib level (0-9) of the page PNGs")
    p.add_argument("--min-chars", type=int, default=d.min_chars,
                   help="reject pages with fewer non-space characters (too_little_text)")
    p.add_argument("--max-bad-char-ratio", type=float, default=d.max_bad_char_ratio,
                   help="reject pages with more U+FFFD / private-use / control characters (bad_unicode)")
    p.add_argument("--max-symbol-ratio", type=float, default=d.max_symbol_ratio,
                   help="reject pages with more punctuation and symbols among non-space characters, leader runs "
                        "like '. . . .' aside (symbol_soup)")
    p.add_argument("--max-foreign-script-ratio", type=float, default=d.max_foreign_script_ratio,
                   help="reject pages with more of their letters outside the page's own scripts (foreign_script)")
    p.add_argument("--no-dedup", action="store_true", help="keep pages whose text duplicates an earlier page")
    p.add_argument("--no-merge-splits", action="store_true", help="keep line fragments on one baseline as the PDF wrote them")
    p.add_argument("--keep-invisible-text", action="store_true",
                   help="keep invisibly drawn text (the OCR layers of scans)")
    p.add_argument("--keep-vertical-text", action="store_true",
                   help="keep lines that do not run left to right in the rendered image")
    p.add_argument("--no-upright", action="store_true", help="do not turn pages whose text runs sideways")
    p.add_argument("--reading-max-chars", type=int, default=d.reading_max_chars,
                   help="a page whose text fits reads as one sample; longer ones split at block boundaries")
    p.add_argument("--min-reading-chars", type=int, default=d.min_reading_chars,
                   help="reading samples shorter than this are dropped")
    p.add_argument("--furniture", choices=FURNITURE, default=d.furniture,
                   help="running headers, footers and page numbers: read them last, drop them from reading, "
                        "or keep them in place")
    p.add_argument("--margin", type=float, default=d.margin,
                   help="share of the page height at the top and at the bottom where furniture is looked for")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {','.join(TASKS)}")
    p.add_argument("--max-chars", type=int, default=d.max_chars, help="answer characters per sample")
    p.add_argument("--max-regions", type=int, default=d.max_regions, help="boxes per sample")
    p.add_argument("--qa-per-page", type=int, default=d.qa_per_page,
                   help="turns of the region-reading and grounding dialogues")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the prompt and region sampling")
    p.add_argument("--shard-pages", type=int, default=d.shard_pages, help="pages per output shard")
    p.add_argument("--max-pages-per-pdf", type=int, default=None, help="read at most this many pages of each PDF")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no log lines")
    return p


def config_from_args(args: argparse.Namespace) -> OcrConfig:
    """The engine settings the flags ask for (ValueError on an invalid combination)."""
    return OcrConfig(
        dpi=args.dpi, longest_side=args.longest_side, max_pixels=args.max_pixels, png_level=args.png_level,
        min_chars=args.min_chars, max_bad_char_ratio=args.max_bad_char_ratio, max_symbol_ratio=args.max_symbol_ratio,
        max_foreign_script_ratio=args.max_foreign_script_ratio, reading_max_chars=args.reading_max_chars,
        min_reading_chars=args.min_reading_chars, furniture=args.furniture, margin=args.margin,
        dedup=not args.no_dedup, merge_splits=not args.no_merge_splits,
        drop_invisible_text=not args.keep_invisible_text, keep_vertical_text=args.keep_vertical_text,
        upright=not args.no_upright,
        tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()), max_chars=args.max_chars,
        max_regions=args.max_regions, qa_per_page=args.qa_per_page, seed=args.seed, shard_pages=args.shard_pages,
        max_pages_per_pdf=args.max_pages_per_pdf,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or resume) the dataset and print a summary; 2 on bad options or inputs, 1 when the
    output folder is held by another build or was built with other settings, 130 when interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"sphinx-x-build-ocr: {e}", file=sys.stderr)
        return 2
    from sphinx_x.engines.ocr.pipeline import build
    from sphinx_x.engines.ocr.shard_writer import OutputLocked, SettingsMismatch

    try:
        manifest = build(args.input, args.out, cfg, workers=args.workers, max_pdfs=args.max_pdfs,
                         progress=not args.quiet, pdf_timeout=args.pdf_timeout)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished PDFs are kept; rerun the same command to resume into {args.out}",
              file=sys.stderr)
        return 130
    except FileNotFoundError as e:
        print(f"sphinx-x-build-ocr: {e}", file=sys.stderr)
        return 2
    except (OutputLocked, SettingsMismatch) as e:
        print(f"sphinx-x-build-ocr: {e}", file=sys.stderr)
        return 1
    summary = {k: manifest[k] for k in ("last_run", "pdfs", "pages", "records", "rejects")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
