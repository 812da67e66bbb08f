"""The Set-of-Mark engine: items -> marks drawn -> (VLM answer) -> Records on the raw image -> shards.

Units (one image, or one multipanel figure) are worked on by ``api.concurrency`` threads and committed
by this thread in input order, so the output does not depend on timing. A unit whose API request still
fails after every retry is not committed: the next run does it (its answer may be cached by then).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, validate_record
from sphinx_x.engines.api_client import (
    ApiConfig,
    ApiUnavailable,
    RequestRefused,
    ResponseCache,
    Usage,
    VlmClient,
    map_in_order,
)
from sphinx_x.engines.ocr.shard_writer import PageOut, PdfResult
from sphinx_x.engines.som.answers import AnswerError, parse_answer
from sphinx_x.engines.som.config import SomConfig
from sphinx_x.engines.som.conversations import (
    annotated_records,
    annotation_turns,
    dialogue_records,
    mark_task_records,
)
from sphinx_x.engines.som.draw import Drawing, draw_marks
from sphinx_x.engines.som.marks import SomItem
from sphinx_x.engines.som.multipanel import choose_figure, compose, panel_records
from sphinx_x.engines.som.shards import SomShardWriter, settings_of
from sphinx_x.engines.som.templates import chat_request, instruction

log = logging.getLogger(__name__)
CACHE = "api_cache"


@dataclass
class Engine:
    """What a unit's worker needs."""

    cfg: SomConfig
    client: VlmClient | None
    api: ApiConfig | None
    prompts: PromptPool


def build(items: Iterable[SomItem | RecordError], out: str | Path, cfg: SomConfig | None = None,
          api: ApiConfig | None = None, cache: str | Path | None = None, max_units: int | None = None,
          progress: bool = True, sleep: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Process every unit not yet in ``out``/done.jsonl; returns the manifest.

    ``api`` is needed by the annotated tasks (without it they are left out); answers are cached under
    ``cache`` (default ``out/api_cache``). ``max_units`` stops after that many units (a later call resumes).
    """
    cfg = cfg or SomConfig()
    if cfg.annotated and api is None:
        raise ValueError(f"som.tasks {list(cfg.tasks)} ask a VLM: give an API (--base-url, --model)")
    settings = settings_of({**cfg.to_dict(), "model": api.model if api else None})
    writer = SomShardWriter(out, cfg.shard_images, settings)
    client = None
    if api is not None:
        kwargs = {"sleep": sleep} if sleep is not None else {}
        client = VlmClient(api, ResponseCache(cache or Path(out) / CACHE), **kwargs)
    engine = Engine(cfg, client, api, PromptPool(seed=cfg.style.seed))
    units = _units(items, cfg)
    todo = (unit for unit in units if unit_ident(unit) not in writer.finished)
    if max_units is not None:
        todo = itertools.islice(todo, max_units)
    pending = 0
    try:
        with ThreadPoolExecutor(api.concurrency if api else 1) as pool, \
                tqdm(unit="unit", disable=not progress, desc="som") as bar:
            window = 2 * (api.concurrency if api else 1)
            for unit, future in map_in_order(pool, lambda unit: process_unit(unit, engine), todo, window):
                try:
                    result = future.result()
                except ApiUnavailable as e:
                    pending += 1
                    log.warning("%s left for the next run: %s", unit_ident(unit), e)
                    continue
                writer.commit(result, dedup=False)
                bar.update(1)
    finally:
        prices = (api.price_input, api.price_output) if api else (0.0, 0.0)
        manifest = writer.close({**cfg.to_dict(), "api": _public(api)}, prices, pending)
    return manifest


Unit = SomItem | RecordError | tuple[int, list[SomItem], str]  # an image, a bad input, or (figure, panels, layout)


def unit_ident(unit: Unit) -> str:
    if isinstance(unit, SomItem):
        return unit.ident
    if isinstance(unit, RecordError):
        return unit.record_id or f"input/{unit.reason}/{unit.detail}"
    return f"multipanel/{unit[0]:06d}"


def unit_key(ident: str) -> str:
    """A tar-safe key: the identity's letters, digits, - and _ plus a hash of the identity."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", ident).strip("_")[-40:] or "unit"
    return f"{stem}-{hashlib.blake2b(ident.encode(), digest_size=4).hexdigest()}"


def _units(items: Iterable[SomItem | RecordError], cfg: SomConfig) -> Iterator[Unit]:
    if not cfg.multipanel:
        yield from items
        return
    pool: list[SomItem] = []
    for item in items:
        if isinstance(item, RecordError):
            yield item
        else:
            pool.append(item)
    if len(pool) < cfg.min_panels:
        raise ValueError(f"multipanel figures need at least {cfg.min_panels} images, the inputs give {len(pool)}")
    for index in range(cfg.multipanel):
        chosen, layout = choose_figure(len(pool), index, cfg.style.seed, cfg.min_panels, cfg.max_panels)
        yield index, [pool[i] for i in chosen], layout


def process_unit(unit: Unit, engine: Engine) -> PdfResult:
    """One unit's page and rejects; never raises except :class:`ApiUnavailable` (unit left for later)."""
    ident = unit_ident(unit)
    result = PdfResult(ident, pages_seen=1)
    if isinstance(unit, RecordError):
        return _reject(result, unit.reason, unit.detail)
    try:
        if isinstance(unit, SomItem):
            return _marks_unit(unit, engine, result)
        return _figure_unit(*unit, engine, result)
    except ApiUnavailable:
        raise
    except RecordError as e:
        return _reject(result, e.reason, e.detail)
    except Exception as e:  # noqa: BLE001 - one bad image must not stop the build
        return _reject(result, "unit_error", f"{type(e).__name__}: {e}")


def _marks_unit(item: SomItem, engine: Engine, result: PdfResult) -> PdfResult:
    cfg, key = engine.cfg, unit_key(item.ident)
    image = load_image(item.image, item.ident)
    if image.size != (item.width, item.height):
        return _reject(result, "size_mismatch", f"annotations say {item.width}x{item.height}, image is "
                                                f"{image.size[0]}x{image.size[1]}")
    drawing = draw_marks(image, item.marks, cfg.style, key)
    stats = Counter({"marks_drawn": len(drawing.placed)}) + Counter(f"marks_{r}" for r in drawing.skipped.values())
    if not drawing.placed:
        result.stats.update(stats)
        return _reject(result, "no_marks", f"no mark could be drawn: {dict(Counter(drawing.skipped.values()))}")
    numbered = {str(p.number): item.marks[p.index] for p in drawing.placed}
    meta = {"domain": item.domain, "image_id": item.ident, "som": marks_meta(key, drawing, item, cfg)}
    records: list[Record] = []
    if "som_marks" in cfg.tasks:
        records += mark_task_records(key, item.domain, item.marks, list(numbered.values()), engine.prompts,
                                     item.uncountable, cfg.max_turns, cfg.max_list, meta)
    answer = None
    if "som_annotated" in cfg.tasks:
        text = instruction(item.domain, list(numbered), [m.label for m in numbered.values()], cfg.max_relations)
        answer = _ask(engine, drawing.image, text, list(numbered), result)
        if answer is not None:
            records += annotated_records(key, numbered, answer, engine.prompts, cfg.max_turns, meta)
    doc = {"key": key, "ident": item.ident, "source": item.source, "domain": item.domain, "image": item.image,
           "width": item.width, "height": item.height, "marks": [m.to_json() for m in item.marks],
           "drawn": [{"number": p.number, "index": p.index, "label_box": list(p.label_box)} for p in drawing.placed],
           "skipped": {str(i): r for i, r in drawing.skipped.items()},
           "annotation": answer.to_json() if answer else None}
    return _page(result, key, image, doc, records, stats, cfg)


def _figure_unit(index: int, items: list[SomItem], layout: str, engine: Engine, result: PdfResult) -> PdfResult:
    cfg, key = engine.cfg, unit_key(result.pdf)
    images = [load_image(item.image, item.ident) for item in items]
    figure, panels = compose(items, images, layout, cfg.panel_unit)
    meta = {"domain": "multipanel", "layout": layout,
            "panels": [{"label": p.label, "image_id": p.item.ident, "box": [round(v, 2) for v in p.image_box()]}
                       for p in panels]}
    records: list[Record] = []
    if "multipanel" in cfg.tasks:
        records += panel_records(key, panels, engine.prompts, cfg.max_turns, meta)
    answer = None
    if "multipanel_annotated" in cfg.tasks:
        letters = [p.letter for p in panels]
        hints = [p.item.caption or ", ".join(sorted({m.label for m in p.item.marks})[:8]) for p in panels]
        answer = _ask(engine, figure, instruction("multipanel", letters, hints, cfg.max_relations), letters, result)
        if answer is not None:
            by_letter = {p.letter: p for p in panels}
            turns = annotation_turns(answer, "caption", "panel_caption", "panel_relation", mark_field="panel")
            records += dialogue_records(key, "multipanel_annotated", f"{key}.png", turns, engine.prompts,
                                        lambda _, letter: by_letter[letter].name, cfg.max_turns, meta)
    doc = {"key": key, "ident": result.pdf, "layout": layout, "width": figure.width, "height": figure.height,
           **meta, "annotation": answer.to_json() if answer else None}
    return _page(result, key, figure, doc, records, Counter(figures=1, panels=len(panels)), cfg)


def _ask(engine: Engine, image: Image.Image, text: str, ids: list[str], result: PdfResult):
    """The VLM's validated answer about ``image`` (None, with a reject, when refused or invalid)."""
    assert engine.client is not None and engine.api is not None
    request = chat_request(engine.api.model, _png(_fit(image, engine.cfg.request_side), 6), text,
                           engine.api.temperature, engine.api.max_tokens, engine.api.json_mode)
    try:
        completion = engine.client.complete(request)
    except RequestRefused as e:
        _reject(result, "api_refused", str(e))
        return None
    usage = Usage()
    usage.add(completion)
    result.stats.update(usage.counts)
    try:
        return parse_answer(completion.content, ids, engine.cfg.max_answer_chars)
    except AnswerError as e:
        _reject(result, e.reason, e.detail, answer=completion.content[:2000])
        return None


def marks_meta(key: str, drawing: Drawing, item: SomItem, cfg: SomConfig) -> dict[str, Any]:
    """What redraws the marked view exactly (:func:`sphinx_x.engines.som.draw.draw_marks` on the raw image):
    the drawn marks in their original order, the style and the key."""
    placed = sorted(drawing.placed, key=lambda p: p.index)
    return {"key": key, "style": cfg.style.to_dict(),
            "marks": [{**item.marks[p.index].to_json(), "number": p.number} for p in placed]}


def _page(result: PdfResult, key: str, image: Image.Image, doc: dict[str, Any], records: list[Record],
          stats: Counter, cfg: SomConfig) -> PdfResult:
    try:
        for record in records:
            validate_record(record, [image.size])
    except RecordError as e:
        return _reject(result, "invalid_record", str(e))
    if not records:
        result.stats.update(stats)
        return result if result.rejects else _reject(result, "no_records", "no task made a record")
    doc["records"] = records
    result.pages.append(PageOut(key, 0, _png(image, cfg.png_level), doc, key, stats))
    return result


def _reject(result: PdfResult, reason: str, detail: str, **extra: Any) -> PdfResult:
    result.rejects.append({"pdf": result.pdf, "page": None, "reason": reason, "detail": detail, **extra})
    return result


def load_image(path: str, ident: str) -> Image.Image:
    """The decoded RGB image (as the training loader decodes it, without importing torch); a missing or
    corrupt file is a countable RecordError."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError as e:
        raise RecordError("missing_image", str(path), ident) from e
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise RecordError("unreadable_image", f"{path}: {e}", ident) from e


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


def _public(api: ApiConfig | None) -> dict[str, Any] | None:
    return api.to_dict() if api else None
