"""``sphinx-x-build-som``: build Set-of-Mark (or multipanel) training data from annotated images (see docs/som.md).

Inputs are a COCO-format annotation file (--coco, with --image-root) or any dataset that has a reader
(--source, a name from sphinx_x/conf/data/source, with --data-root). Without --base-url only the
annotation-free tasks are built; with it, a VLM behind an OpenAI-compatible API describes the marks.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections.abc import Iterator, Sequence

from sphinx_x.data.records import RecordError
from sphinx_x.engines.api_client import ApiConfig
from sphinx_x.engines.som.config import ANNOTATED, MARK_TASKS, PANEL_TASKS, SomConfig
from sphinx_x.engines.som.draw import MarkStyle
from sphinx_x.engines.som.marks import DOMAINS, SomItem


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults are :class:`SomConfig`'s, :class:`MarkStyle`'s and :class:`ApiConfig`'s."""
    c, s, a = SomConfig(), MarkStyle(), ApiConfig("", "")
    p = argparse.ArgumentParser(prog="sphinx-x-build-som", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("input (one of --coco / --source)")
    src.add_argument("--coco", help="COCO-format annotation JSON (boxes, polygon or RLE masks, keypoints)")
    src.add_argument("--image-root", default=None, help="folder the COCO file's image file names are relative to")
    src.add_argument("--source", help="a dataset config name from sphinx_x/conf/data/source (e.g. totaltext, publaynet)")
    src.add_argument("--data-root", default="data", help="paths.data_root for --source")
    src.add_argument("--domain", choices=DOMAINS[:-1], default=None,
                     help="instruction domain (default: natural for --coco; from the reader for --source)")
    src.add_argument("--max-images", type=int, default=None, help="use at most this many input images")
    p.add_argument("--out", required=True, help="output folder (shards, done.jsonl, rejects.jsonl, manifest.json)")
    p.add_argument("--max-units", type=int, default=None, help="stop after this many units (rerun to continue)")
    p.add_argument("--tasks", default=None,
                   help=f"comma-separated record tasks; marks: {','.join(MARK_TASKS)}; multipanel: "
                        f"{','.join(PANEL_TASKS)} (default: all of the build's, the annotated ones only with --base-url)")
    marks = p.add_argument_group("marks")
    marks.add_argument("--seed", type=int, default=s.seed, help="seed of colours, prompts and multipanel choices")
    marks.add_argument("--max-marks", type=int, default=s.max_marks, help="marks per image (the largest regions)")
    marks.add_argument("--min-area", type=float, default=s.min_area, help="regions smaller than this (px) are not marked")
    marks.add_argument("--min-side", type=float, default=s.min_side, help="boxes thinner than this (px) are not marked")
    marks.add_argument("--font-size", type=int, default=None, help="label font size in px (default: 2.5%% of the long side)")
    marks.add_argument("--fill-alpha", type=float, default=s.fill_alpha, help="opacity of mask fills")
    recs = p.add_argument_group("records")
    recs.add_argument("--max-turns", type=int, default=c.max_turns, help="turns per record")
    recs.add_argument("--max-list", type=int, default=c.max_list, help="ask to list all marks only up to this many")
    recs.add_argument("--max-relations", type=int, default=c.max_relations, help="relations asked of the VLM")
    panels = p.add_argument_group("multipanel")
    panels.add_argument("--multipanel", type=int, default=0, help="compose this many figures instead of marking images")
    panels.add_argument("--min-panels", type=int, default=c.min_panels, help="fewest panels per figure (>= 2)")
    panels.add_argument("--max-panels", type=int, default=c.max_panels, help="most panels per figure (<= 9)")
    panels.add_argument("--panel-unit", type=int, default=c.panel_unit, help="pixels of one layout grid cell")
    api = p.add_argument_group("VLM API (OpenAI-compatible; the key is read from --api-key-env)")
    api.add_argument("--base-url", default=None, help="e.g. http://127.0.0.1:8000/v1 (sphinx-x-serve) or a hosted API")
    api.add_argument("--model", default=None, help="model name sent with every request")
    api.add_argument("--api-key-env", default=a.api_key_env, help="environment variable holding the API key")
    api.add_argument("--concurrency", type=int, default=a.concurrency, help="requests in flight at once")
    api.add_argument("--rpm", type=float, default=a.requests_per_minute, help="requests per minute at most")
    api.add_argument("--max-retries", type=int, default=a.max_retries, help="retries on 429, 5xx, timeouts")
    api.add_argument("--timeout", type=float, default=a.timeout, help="seconds per request")
    api.add_argument("--backoff", type=float, default=a.backoff, help="seconds before the first retry (doubling)")
    api.add_argument("--temperature", type=float, default=a.temperature, help="sampling temperature")
    api.add_argument("--max-tokens", type=int, default=a.max_tokens, help="answer tokens per request")
    api.add_argument("--json-mode", action="store_true", help="send response_format=json_object")
    api.add_argument("--request-side", type=int, default=c.request_side, help="long side of the image sent (px)")
    api.add_argument("--price-input", type=float, default=0.0, help="USD per million prompt tokens (manifest cost)")
    api.add_argument("--price-output", type=float, default=0.0, help="USD per million completion tokens")
    api.add_argument("--cache", default=None, help="answer cache folder (default: OUT/api_cache)")
    p.add_argument("--shard-images", type=int, default=c.shard_images, help="units per output shard")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if (args.coco is None) == (args.source is None):
        p.error("give exactly one of --coco and --source")
    if (args.base_url is None) != (args.model is None):
        p.error("--base-url and --model go together")
    return args


def config_from_args(args: argparse.Namespace) -> tuple[SomConfig, ApiConfig | None]:
    """The engine settings the flags ask for (ValueError on an invalid combination)."""
    if args.tasks:
        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    else:
        tasks = PANEL_TASKS if args.multipanel else MARK_TASKS
        if args.base_url is None:
            tasks = tuple(t for t in tasks if t not in ANNOTATED)
    style = MarkStyle(seed=args.seed, max_marks=args.max_marks, min_area=args.min_area, min_side=args.min_side,
                      font_size=args.font_size, fill_alpha=args.fill_alpha)
    cfg = SomConfig(style=style, tasks=tasks, max_turns=args.max_turns, max_list=args.max_list,
                    max_relations=args.max_relations, request_side=args.request_side, multipanel=args.multipanel,
                    min_panels=args.min_panels, max_panels=args.max_panels, panel_unit=args.panel_unit,
                    shard_images=args.shard_images)
    api = None
    if args.base_url:
        api = ApiConfig(args.base_url, args.model, args.api_key_env, args.concurrency, args.rpm, args.max_retries,
                        args.timeout, args.backoff, temperature=args.temperature, max_tokens=args.max_tokens,
                        json_mode=args.json_mode, price_input=args.price_input, price_output=args.price_output)
    if cfg.annotated and api is None:
        raise ValueError(f"tasks {list(cfg.tasks)} ask a VLM: give --base-url and --model")
    return cfg, api


def items_from_args(args: argparse.Namespace) -> Iterator[SomItem | RecordError]:
    from sphinx_x.engines.som.inputs import coco_items, source_items

    if args.coco:
        items = coco_items(args.coco, args.image_root, args.domain or "natural", "coco")
    else:
        items = source_items(args.source, args.data_root, args.domain)
    return itertools.islice(items, args.max_images)


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or resume) and print a summary; 2 on bad options, 3 when units were left for a rerun,
    130 when interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        cfg, api = config_from_args(args)
    except ValueError as e:
        print(f"sphinx-x-build-som: {e}", file=sys.stderr)
        return 2
    from sphinx_x.engines.api_shards import run_build_cli
    from sphinx_x.engines.som.pipeline import build

    return run_build_cli("sphinx-x-build-som", lambda: build(
        items_from_args(args), args.out, cfg, api, cache=args.cache, max_units=args.max_units, progress=not args.quiet),
        args.out, "units")


if __name__ == "__main__":
    sys.exit(main())
