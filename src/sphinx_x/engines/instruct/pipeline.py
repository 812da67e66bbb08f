"""The MMInstruct engine: images -> (dedup) -> VLM caption -> LLM items per question type -> quality rules
-> Records -> shards.

Images are worked on by ``concurrency`` threads and committed by this thread in input order, so the output
does not depend on timing. An image whose API request still fails after every retry is not committed: the
next run does it (answers already given are in the cache). Dedup is decided here, in input order, before
any request: a later copy of an image seen before (this run or a previous one) is rejected unasked.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import RecordError, validate_record
from sphinx_x.engines.api_client import (
    ApiConfig,
    ApiUnavailable,
    RequestRefused,
    ResponseCache,
    Usage,
    VlmClient,
    map_in_order,
)
from sphinx_x.engines.api_shards import ApiShardWriter
from sphinx_x.engines.instruct.config import FORMAT, InstructConfig
from sphinx_x.engines.instruct.conversations import instruct_records
from sphinx_x.engines.instruct.dedup import dhash
from sphinx_x.engines.instruct.inputs import InstructItem
from sphinx_x.engines.instruct.quality import QA, check_items
from sphinx_x.engines.instruct.seeds import sample_seeds
from sphinx_x.engines.instruct.tagged import TaggedError, parse_tagged
from sphinx_x.engines.instruct.templates import caption_request, qa_instruction, qa_request
from sphinx_x.engines.ocr.shard_writer import PageOut, PdfResult
from sphinx_x.engines.som.pipeline import load_image, unit_key

log = logging.getLogger(__name__)
CACHE = "api_cache"


@dataclass
class Engine:
    """What an image's worker needs: the caption VLM, the item-writing LLM (may be the same API)."""

    cfg: InstructConfig
    vlm: VlmClient
    llm: VlmClient
    seeds: Mapping[str, list[str]]
    prompts: PromptPool


@dataclass
class Unit:
    item: InstructItem
    image: Image.Image | None = None
    hash: str = ""
    error: RecordError | None = None


def build(items: Iterable[InstructItem], out: str | Path, seeds: Mapping[str, list[str]], vlm: ApiConfig,
          llm: ApiConfig | None = None, cfg: InstructConfig | None = None, cache: str | Path | None = None,
          max_units: int | None = None, progress: bool = True,
          sleep: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Process every image not yet in ``out``/done.jsonl; returns the manifest.

    ``vlm`` writes the captions and ``llm`` the items (default: the same API). Answers are cached under
    ``cache`` (default ``out/api_cache``). ``max_units`` stops after that many images (a later call resumes).
    """
    cfg = cfg or InstructConfig()
    llm = llm or vlm
    settings = {"format": FORMAT, **cfg.to_dict(), "vlm_model": vlm.model, "llm_model": llm.model,
                "seeds": hashlib.sha256(json.dumps(dict(seeds), sort_keys=True).encode()).hexdigest()[:16]}
    writer = ApiShardWriter(out, FORMAT, cfg.shard_images, settings)
    kwargs = {"sleep": sleep} if sleep is not None else {}
    store = ResponseCache(cache or Path(out) / CACHE)
    engine = Engine(cfg, VlmClient(vlm, store, **kwargs), VlmClient(llm, store, **kwargs), seeds, PromptPool(seed=cfg.seed))
    todo = _prepared((i for i in items if i.ident not in writer.finished), set(writer.hashes), cfg, seeds)
    if max_units is not None:
        todo = itertools.islice(todo, max_units)
    pending = 0
    workers = max(vlm.concurrency, llm.concurrency)
    try:
        with ThreadPoolExecutor(workers) as pool, tqdm(unit="image", disable=not progress, desc="mminstruct") as bar:
            for unit, future in map_in_order(pool, lambda unit: process_unit(unit, engine), todo, 2 * workers):
                try:
                    result = future.result()
                except ApiUnavailable as e:
                    pending += 1
                    log.warning("%s left for the next run: %s", unit.item.ident, e)
                    continue
                writer.commit(result, dedup=False)
                bar.update(1)
    finally:
        prices = (vlm.price_input, vlm.price_output)
        manifest = writer.close({**cfg.to_dict(), "vlm": vlm.to_dict(), "llm": llm.to_dict()}, prices, pending)
    return manifest


def _prepared(items: Iterable[InstructItem], seen: set[str], cfg: InstructConfig,
              seeds: Mapping[str, list[str]]) -> Iterator[Unit]:
    """Each item decoded and hashed; unreadable images, unknown domains and duplicates become errors."""
    for item in items:
        if item.domain not in seeds:
            yield Unit(item, error=RecordError("unknown_domain", f"no seed questions for domain {item.domain!r}"))
            continue
        try:
            image = load_image(item.image, item.ident)
        except RecordError as e:
            yield Unit(item, error=e)
            continue
        digest = dhash(image)
        if cfg.dedup and digest in seen:
            yield Unit(item, error=RecordError("duplicate_image", f"dHash {digest} seen before"))
            continue
        seen.add(digest)
        yield Unit(item, image, digest)


def process_unit(unit: Unit, engine: Engine) -> PdfResult:
    """One image's page and rejects; never raises except :class:`ApiUnavailable` (image left for later)."""
    result = PdfResult(unit.item.ident, pages_seen=1)
    if unit.error is not None:
        return _reject(result, unit.error.reason, unit.error.detail)
    try:
        return _image_unit(unit, engine, result)
    except ApiUnavailable:
        raise
    except RecordError as e:
        return _reject(result, e.reason, e.detail)
    except Exception as e:  # noqa: BLE001 - one bad image must not stop the build
        return _reject(result, "unit_error", f"{type(e).__name__}: {e}")


def _image_unit(unit: Unit, engine: Engine, result: PdfResult) -> PdfResult:
    cfg, item, key = engine.cfg, unit.item, unit_key(unit.item.ident)
    assert unit.image is not None
    vlm = engine.vlm.cfg
    request = caption_request(vlm.model, _png(_fit(unit.image, cfg.request_side), 6), item.domain, vlm.temperature,
                              vlm.max_tokens)
    caption = _ask(engine.vlm, request, result)
    if caption is None:
        return result
    caption = _cut(caption.strip(), cfg.max_caption_chars)
    if len(caption) < cfg.min_caption_chars:
        return _reject(result, "short_caption", f"{len(caption)} characters (need {cfg.min_caption_chars}): "
                                                f"{caption[:120]!r}")
    seen: set[str] = set()
    by_type: dict[str, list[QA]] = {}
    for qtype in cfg.types:
        by_type[qtype] = _items(engine, item, key, qtype, caption, seen, result)
    stats = Counter({f"items_{t}": len(qas) for t, qas in by_type.items()})
    meta = {"domain": item.domain, "image_id": item.ident}
    records = instruct_records(key, f"{key}.png", by_type, engine.prompts, meta)
    result.stats.update(stats)
    if not records:
        return _reject(result, "no_records", "no question type kept an item")
    try:
        for record in records:
            validate_record(record, [unit.image.size])
    except RecordError as e:
        return _reject(result, "invalid_record", str(e))
    doc = {"key": key, "ident": item.ident, "domain": item.domain, "image": item.image, "width": unit.image.width,
           "height": unit.image.height, "dhash": unit.hash, "caption": caption,
           "items": [qa.to_json() for qas in by_type.values() for qa in qas], "records": records}
    result.pages.append(PageOut(key, 0, _png(unit.image, cfg.png_level), doc, unit.hash))
    return result


def _items(engine: Engine, item: InstructItem, key: str, qtype: str, caption: str, seen: set[str],
           result: PdfResult) -> list[QA]:
    """One LLM call for ``qtype``: the kept items; each dropped one is a reject of the image."""
    cfg, llm = engine.cfg, engine.llm.cfg
    questions = sample_seeds(engine.seeds, item.domain, cfg.seeds_per_call, f"{key}:{qtype}", cfg.seed)
    text = qa_instruction(qtype, item.domain, caption, questions, cfg.items_per_call, cfg.yes, cfg.no)
    answer = _ask(engine.llm, qa_request(llm.model, text, llm.temperature, llm.max_tokens), result, qtype)
    if answer is None:
        return []
    try:
        tagged, problems = parse_tagged(answer, cfg.max_field_chars)
    except TaggedError as e:
        _reject(result, e.reason, e.detail, type=qtype, answer=answer[:2000])
        return []
    kept, dropped = check_items(qtype, tagged, caption, cfg, f"{cfg.seed}:{key}:{qtype}", seen)
    for index, reason, detail in problems + dropped:
        _reject(result, reason, detail, type=qtype, item=index)
    return kept


def _ask(client: VlmClient, request: dict[str, Any], result: PdfResult, qtype: str | None = None) -> str | None:
    """The answer's text (None, with a reject, when the server refuses the request)."""
    try:
        completion = client.complete(request)
    except RequestRefused as e:
        _reject(result, "api_refused", str(e), **({"type": qtype} if qtype else {}))
        return None
    usage = Usage()
    usage.add(completion)
    result.stats.update(usage.counts)
    return completion.content


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, ended at the last sentence end when cut."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind(".\n"))
    return head[:end + 1] if end > 0 else head


def _reject(result: PdfResult, reason: str, detail: str, **extra: Any) -> PdfResult:
    result.rejects.append({"pdf": result.pdf, "page": None, "reason": reason, "detail": detail, **extra})
    return result


def _fit(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.LANCZOS)


def _png(image: Image.Image, level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()
