"""See the data as the model does: the exact text with label masking marked, and the tiled view.

``python -m sphinx_x.inspect_data experiment=demo inspect.source=demo_llava inspect.n=3``
Labelled (trained-on) text is shown inside ``[[ ]]``; image slots as ``<image k: ...>``. For Set-of-Mark
sources the PNGs also show the raw image next to its marked view.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig
from PIL import Image, ImageDraw

from sphinx_x.data.datamodule import source_specs
from sphinx_x.data.dataset import Sample, load_image
from sphinx_x.data.geometry import ImageFrame
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RejectLog
from sphinx_x.data.slots import IGNORE_INDEX, SKIP, START, TEXT
from sphinx_x.data.sources.base import iter_source
from sphinx_x.data.tiling import PAD_RGB


def render_sample(sample: Sample, tokenizer: Any) -> str:
    """The model's input as text: labelled runs in ``[[ ]]``, each image as a one-line summary."""
    rows = list(zip(sample.input_ids.tolist(), sample.labels.tolist(), sample.slot_kind.tolist(), strict=True))
    parts, image = [], 0
    for (kind, labelled), run in groupby(rows, key=lambda r: (r[2] != TEXT, r[1] != IGNORE_INDEX)):
        run = list(run)
        if kind:
            groups = sum(1 for r in run if r[2] == START)
            skipped = sum(1 for r in run if r[2] == SKIP)
            parts.append(f"<image {image}: {groups} tile groups kept, {skipped} skipped, {len(run)} slots>")
            image += 1
            continue
        text = tokenizer.decode([r[0] for r in run])
        parts.append(f"[[{text}]]" if labelled else text)
    return "".join(parts)


def draw_model_view(image: Image.Image, frame: ImageFrame, keep: list[bool], regions: list[dict[str, Any]],
                    side: int = 448) -> Image.Image:
    """The padded square the model sees, with the tile grid, skipped tiles hatched, and boxes."""
    scale = side / frame.side
    canvas = Image.new("RGB", (side, side), PAD_RGB)
    content = image.resize((max(1, round(frame.width * frame.scale * scale)),
                            max(1, round(frame.height * frame.scale * scale))))
    canvas.paste(content, (round(frame.offset_x * scale), round(frame.offset_y * scale)))
    draw = ImageDraw.Draw(canvas)
    tile = side / frame.grid
    for index, kept in enumerate(keep[1:]):
        row, col = divmod(index, frame.grid)
        box = (col * tile, row * tile, (col + 1) * tile - 1, (row + 1) * tile - 1)
        draw.rectangle(box, outline=(255, 255, 255) if kept else (255, 0, 0), width=2)
        if not kept:
            draw.line(box, fill=(255, 0, 0), width=2)
            draw.text((box[0] + 6, box[1] + 6), "skip", fill=(255, 0, 0))
    for region in regions:
        if "box" in region:
            u1, v1, u2, v2 = frame.normalise_box(region["box"])
            draw.rectangle((u1 * side, v1 * side, u2 * side, v2 * side), outline=(0, 255, 0), width=2)
        else:
            u, v = frame.normalise_point(*region["point"])
            draw.ellipse((u * side - 3, v * side - 3, u * side + 3, v * side + 3), fill=(0, 255, 0))
    return canvas


def marked_view(record: Record, image: Image.Image) -> Image.Image | None:
    """For a Set-of-Mark record: the raw image the model trains on, next to the marked copy the VLM saw
    (redrawn exactly from ``meta.som``); None for other records."""
    som = record.get("meta", {}).get("som")
    if not som:
        return None
    from sphinx_x.engines.som.draw import MarkStyle, draw_marks
    from sphinx_x.engines.som.marks import Mark

    marked = draw_marks(image, [Mark.from_json(m) for m in som["marks"]], MarkStyle(**som["style"]), som["key"]).image
    pair = Image.new("RGB", (2 * image.width + 8, image.height), (255, 255, 255))
    pair.paste(image, (0, 0))
    pair.paste(marked, (image.width + 8, 0))
    return pair


def inspect_records(records: list[Record], processor: SphinxProcessor, png_dir: Path | None) -> list[str]:
    """Rendered text per record; PNGs of every image when ``png_dir`` is given (for Set-of-Mark records
    also ``<id>_<k>_marks.png``: the raw image next to its marked view)."""
    out = []
    for record in records:
        sample = processor(record)
        out.append(f"=== {record['id']} ({record['task']})\n{render_sample(sample, processor.tokenizer)}")
        if png_dir is None:
            continue
        png_dir.mkdir(parents=True, exist_ok=True)
        for k, (path, frame) in enumerate(zip(record.get("images", []), sample.frames, strict=False)):
            regions = [r for r in record.get("regions", []) if r.get("image", 0) == k]
            image = load_image(path, record["id"])
            view = draw_model_view(image, frame, processor.layout.keep_mask(frame), regions)
            view.save(png_dir / f"{record['id'].replace('/', '_')}_{k}.png")
            if (pair := marked_view(record, image)) is not None:
                pair.save(png_dir / f"{record['id'].replace('/', '_')}_{k}_marks.png")
    return out


@hydra.main(version_base="1.3", config_path="pkg://sphinx_x.conf", config_name="inspect")
def main(cfg: DictConfig) -> None:
    from sphinx_x.data.tokenize import load_tokenizer
    from sphinx_x.runtime.assets import ensure_demo_world

    ensure_demo_world(cfg)
    tokenizer = load_tokenizer(cfg.model.tokenizer, trust_remote_code=cfg.model.llm.trust_remote_code)
    processor = SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data)
    prompts = PromptPool(seed=cfg.data.prompts.seed, fixed=cfg.data.prompts.fixed)
    png_dir = Path(cfg.inspect.png_dir) if cfg.inspect.png_dir else None
    for spec in source_specs(cfg.data):
        if cfg.inspect.source and spec.name != cfg.inspect.source:
            continue
        records = []
        for record in iter_source(spec, prompts, RejectLog()):
            records.append(record)
            if len(records) >= cfg.inspect.n:
                break
        print("\n\n".join(inspect_records(records, processor, png_dir)))


if __name__ == "__main__":
    main()
