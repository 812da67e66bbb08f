"""Settings of the OCR data engine (one frozen dataclass, validated on creation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sphinx_x.data.ocr.labelled_boxes import MAX_CHARS, MAX_REGIONS
from sphinx_x.data.ocr.task_names import TASK_NAMES

TASKS = tuple(TASK_NAMES)
FURNITURE = ("last", "drop", "keep")


@dataclass(frozen=True)
class OcrConfig:
    """Rendering, filtering, task and sharding options; defaults are the documented recipe."""

    # rendering
    dpi: float = 144.0
    longest_side: int | None = None  # overrides dpi: the page's long edge in pixels
    max_pixels: int = 30_000_000  # larger pages are rendered smaller (counted as "downscaled")
    png_level: int = 1  # zlib level of the page PNGs; low keeps rendering the dominant cost
    # quality filters (a page failing one is written to rejects.jsonl with the filter's name)
    min_chars: int = 100  # "too_little_text": fewer non-space characters
    max_bad_char_ratio: float = 0.1  # "bad_unicode": U+FFFD, private-use, unassigned, control chars
    max_symbol_ratio: float = 0.7  # "symbol_soup": punctuation+symbols among non-space chars, leaders aside
    max_foreign_script_ratio: float = 0.3  # "foreign_script": letters outside the page's scripts
    dedup: bool = True  # "duplicate_page": same normalised text as an earlier page
    merge_splits: bool = True  # merge same-baseline line fragments and hyphenated words
    drop_invisible_text: bool = True  # text drawn invisibly (OCR layers of scans) is not visible text
    keep_vertical_text: bool = False  # lines not left-to-right in the rendered image are dropped
    upright: bool = True  # turn a page whose text mostly runs sideways or upside down (counted)
    # reading samples
    reading_max_chars: int = 6000  # a page reads as one sample up to this many characters (~1.5k tokens)
    min_reading_chars: int = 20  # shorter reading samples are dropped (counted)
    furniture: str = "last"  # running headers, footers, page numbers: read "last", "drop" or "keep" in place
    margin: float = 0.08  # share of the page height at the top and bottom where furniture is looked for
    # tasks
    tasks: tuple[str, ...] = TASKS
    max_chars: int = MAX_CHARS  # answer characters per sample (boxes counted as written out)
    max_regions: int = MAX_REGIONS  # boxes per sample
    qa_per_page: int = 3  # turns of the region-reading and grounding dialogues
    min_grounding_chars: int = 8
    seed: int = 0
    # output
    shard_pages: int = 1000
    max_pages_per_pdf: int | None = None

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"ocr.tasks must be a non-empty subset of {TASKS}, got {list(self.tasks)}")
        if self.dpi <= 0 or (self.longest_side is not None and self.longest_side <= 0):
            raise ValueError("ocr.dpi and ocr.longest_side must be positive")
        if not 0 <= self.png_level <= 9:
            raise ValueError(f"ocr.png_level must be in 0..9, got {self.png_level}")
        if self.max_chars < 200 or self.max_regions < 1:
            raise ValueError("ocr.max_chars must be >= 200 and ocr.max_regions >= 1")
        if self.shard_pages < 1:
            raise ValueError("ocr.shard_pages must be >= 1")
        if self.furniture not in FURNITURE:
            raise ValueError(f"ocr.furniture must be one of {FURNITURE}, got {self.furniture!r}")
        for name in ("max_bad_char_ratio", "max_symbol_ratio", "max_foreign_script_ratio"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"ocr.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"ocr.margin must be in [0, 0.5), got {self.margin}")
        if self.reading_max_chars < 200 or self.min_reading_chars < 0:
            raise ValueError("ocr.reading_max_chars must be >= 200 and ocr.min_reading_chars >= 0")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tasks"] = list(self.tasks)
        return out
