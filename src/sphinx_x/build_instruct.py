"""``sphinx-x-build-instruct``: build MMInstruct-style instruction data from images (see docs/mminstruct.md).

Input is a folder with one sub-folder of images per domain (--images). A VLM behind an OpenAI-compatible
API (--base-url, --model) writes a detailed caption of each image; a text-only LLM (--llm-base-url,
--llm-model; default: the same API) writes judgement, multiple-choice, short and long question/answer
items from the caption and sampled seed questions of the domain; the quality rules keep the grounded,
well-formed ones. The output folder (shards, done.jsonl, rejects.jsonl, manifest.json) is resumable.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections.abc import Sequence

from sphinx_x.engines.api_client import ApiConfig
from sphinx_x.engines.instruct.config import QUESTION_TYPES, InstructConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults are :class:`InstructConfig`'s and :class:`ApiConfig`'s."""
    c, a = InstructConfig(), ApiConfig("", "")
    p = argparse.ArgumentParser(prog="sphinx-x-build-instruct", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--images", required=True, help="folder with one sub-folder of images per domain")
    p.add_argument("--domains", default=None, help="comma-separated domain folders to use (default: all)")
    p.add_argument("--seeds", default=None,
                   help="JSON {domain: [seed questions]} adding to / replacing the built-in domains' seeds")
    p.add_argument("--max-images", type=int, default=None, help="use at most this many input images")
    p.add_argument("--out", required=True, help="output folder (shards, done.jsonl, rejects.jsonl, manifest.json)")
    p.add_argument("--max-units", type=int, default=None, help="stop after this many images (rerun to continue)")
    gen = p.add_argument_group("generation and quality rules")
    gen.add_argument("--types", default=",".join(c.types), help=f"comma-separated question types from {QUESTION_TYPES}")
    gen.add_argument("--seeds-per-call", type=int, default=c.seeds_per_call, help="seed questions shown per LLM call")
    gen.add_argument("--items-per-call", type=int, default=c.items_per_call, help="items asked per LLM call")
    gen.add_argument("--yes", type=int, default=c.yes, help="judgement items per image answered Yes")
    gen.add_argument("--no", type=int, default=c.no, help="judgement items per image answered No")
    gen.add_argument("--min-grounding", type=float, default=c.min_grounding,
                     help="share of an answer's content words that must occur in the caption")
    gen.add_argument("--short-max-words", type=int, default=c.short_max_words, help="longest short answer (words)")
    gen.add_argument("--long-min-words", type=int, default=c.long_min_words, help="shortest long answer (words)")
    gen.add_argument("--min-caption-chars", type=int, default=c.min_caption_chars, help="shorter captions reject the image")
    gen.add_argument("--no-dedup", action="store_true", help="keep images whose perceptual hash was seen before")
    gen.add_argument("--seed", type=int, default=c.seed, help="seed of seed-question sampling, option order, prompts")
    api = p.add_argument_group("APIs (OpenAI-compatible; keys are read from --api-key-env)")
    api.add_argument("--base-url", required=True, help="the captioning VLM, e.g. http://127.0.0.1:8000/v1 (sphinx-x-serve)")
    api.add_argument("--model", required=True, help="VLM model name sent with every caption request")
    api.add_argument("--llm-base-url", default=None, help="the item-writing LLM (default: --base-url)")
    api.add_argument("--llm-model", default=None, help="LLM model name (default: --model)")
    api.add_argument("--api-key-env", default=a.api_key_env, help="environment variable holding the API key")
    api.add_argument("--concurrency", type=int, default=a.concurrency, help="requests in flight at once (per API)")
    api.add_argument("--rpm", type=float, default=a.requests_per_minute, help="requests per minute at most (per API)")
    api.add_argument("--max-retries", type=int, default=a.max_retries, help="retries on 429, 5xx, timeouts")
    api.add_argument("--timeout", type=float, default=a.timeout, help="seconds per request")
    api.add_argument("--backoff", type=float, default=a.backoff, help="seconds before the first retry (doubling)")
    api.add_argument("--temperature", type=float, default=a.temperature, help="sampling temperature")
    api.add_argument("--max-tokens", type=int, default=a.max_tokens, help="answer tokens per request")
    api.add_argument("--request-side", type=int, default=c.request_side, help="long side of the image sent (px)")
    api.add_argument("--price-input", type=float, default=0.0, help="USD per million prompt tokens (manifest cost)")
    api.add_argument("--price-output", type=float, default=0.0, help="USD per million completion tokens")
    api.add_argument("--cache", default=None, help="answer cache folder (default: OUT/api_cache)")
    p.add_argument("--shard-images", type=int, default=c.shard_images, help="images per output shard")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> tuple[InstructConfig, ApiConfig, ApiConfig]:
    """The engine settings and the two APIs the flags ask for (ValueError on an invalid value)."""
    cfg = InstructConfig(types=tuple(t.strip() for t in args.types.split(",") if t.strip()),
                         seeds_per_call=args.seeds_per_call, items_per_call=args.items_per_call, yes=args.yes,
                         no=args.no, min_grounding=args.min_grounding, short_max_words=args.short_max_words,
                         long_min_words=args.long_min_words, min_caption_chars=args.min_caption_chars,
                         request_side=args.request_side, dedup=not args.no_dedup, seed=args.seed,
                         shard_images=args.shard_images)

    def api(url: str, model: str) -> ApiConfig:
        return ApiConfig(url, model, args.api_key_env, args.concurrency, args.rpm, args.max_retries, args.timeout,
                         args.backoff, temperature=args.temperature, max_tokens=args.max_tokens,
                         price_input=args.price_input, price_output=args.price_output)

    return cfg, api(args.base_url, args.model), api(args.llm_base_url or args.base_url, args.llm_model or args.model)


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or resume) and print a summary; 2 on bad options, 3 when images were left for a rerun,
    130 when interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from sphinx_x.engines.instruct.inputs import folder_items
    from sphinx_x.engines.instruct.seeds import load_seeds

    try:
        cfg, vlm, llm = config_from_args(args)
        seeds = load_seeds(args.seeds)
        domains = [d.strip() for d in args.domains.split(",")] if args.domains else None
        items = list(itertools.islice(folder_items(args.images, domains), args.max_images))
        if unknown := sorted({i.domain for i in items} - set(seeds)):
            raise ValueError(f"no seed questions for domain(s) {unknown}: add them with --seeds "
                             f"(built-in: {sorted(seeds)})")
    except ValueError as e:
        print(f"sphinx-x-build-instruct: {e}", file=sys.stderr)
        return 2
    from sphinx_x.engines.api_shards import run_build_cli
    from sphinx_x.engines.instruct.pipeline import build

    return run_build_cli("sphinx-x-build-instruct", lambda: build(
        items, args.out, seeds, vlm, llm, cfg, cache=args.cache, max_units=args.max_units, progress=not args.quiet),
        args.out, "images")


if __name__ == "__main__":
    sys.exit(main())
