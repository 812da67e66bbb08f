"""Settings of the MMInstruct engine (one frozen dataclass, validated on creation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

QUESTION_TYPES = ("judgement", "choice", "short", "long")
TASKS = {qtype: f"mmi_{qtype}" for qtype in QUESTION_TYPES}  # record task (and prompt pool) per type
FORMAT = "sphinx_x.mminstruct/1"


@dataclass(frozen=True)
class InstructConfig:
    """Generation and quality options; defaults follow the paper (docs/mminstruct.md)."""

    types: tuple[str, ...] = QUESTION_TYPES
    seeds_per_call: int = 3  # seed questions of the domain shown to the LLM per call
    items_per_call: int = 3  # QA items asked per call (judgement: yes + no)
    yes: int = 2  # judgement items kept per image whose answer is Yes ...
    no: int = 2  # ... and No; an image that cannot give both keeps no judgement item
    min_grounding: float = 0.5  # share of an answer's content words that must occur in the caption
    short_max_words: int = 12  # a short answer longer than this is rejected
    long_min_words: int = 12  # a long answer shorter than this is rejected
    min_caption_chars: int = 40
    max_caption_chars: int = 4000  # longer captions are cut at a sentence end
    max_field_chars: int = 1500  # per question / options / answer
    request_side: int = 1024  # the image is sent with its long side at most this many pixels
    dedup: bool = True  # drop an image whose perceptual hash was seen before
    seed: int = 0  # seed sampling, option shuffling and prompts
    shard_images: int = 1000
    png_level: int = 6

    def __post_init__(self) -> None:
        if not self.types or any(t not in QUESTION_TYPES for t in self.types) or len(set(self.types)) != len(self.types):
            raise ValueError(f"instruct.types must be distinct names from {QUESTION_TYPES}, got {list(self.types)}")
        if self.seeds_per_call < 1 or self.items_per_call < 1 or self.yes < 0 or self.no < 0 or self.yes + self.no < 1:
            raise ValueError("instruct: seeds_per_call >= 1, items_per_call >= 1, yes/no >= 0 with yes + no >= 1")
        if not 0.0 <= self.min_grounding <= 1.0:
            raise ValueError(f"instruct.min_grounding must be in [0, 1], got {self.min_grounding}")
        if self.short_max_words < 1 or self.long_min_words < 1 or self.min_caption_chars < 1:
            raise ValueError("instruct: short_max_words, long_min_words and min_caption_chars must be >= 1")
        if self.max_caption_chars < self.min_caption_chars or self.max_field_chars < 10 or self.request_side < 64:
            raise ValueError("instruct: max_caption_chars >= min_caption_chars, max_field_chars >= 10, request_side >= 64")
        if self.shard_images < 1 or not 0 <= self.png_level <= 9:
            raise ValueError("instruct: shard_images >= 1, png_level in 0..9")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["types"] = list(self.types)
        return out
