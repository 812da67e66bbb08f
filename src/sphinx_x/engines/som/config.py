"""Settings of the Set-of-Mark engine (one frozen dataclass, validated on creation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sphinx_x.engines.som.draw import MarkStyle

MARK_TASKS = ("som_marks", "som_annotated")  # record tasks of a marks build
PANEL_TASKS = ("multipanel", "multipanel_annotated")  # record tasks of a multipanel build
ANNOTATED = ("som_annotated", "multipanel_annotated")  # the tasks that need the VLM


@dataclass(frozen=True)
class SomConfig:
    """Drawing, record and output options; defaults are the documented recipe (docs/som.md)."""

    style: MarkStyle = field(default_factory=MarkStyle)
    tasks: tuple[str, ...] = MARK_TASKS
    max_turns: int = 8  # turns per record (longer annotations become several records)
    max_list: int = 40  # the "list every mark" question only for images with at most this many marks
    max_relations: int = 5  # relations asked of the VLM
    max_answer_chars: int = 2000  # per caption / relation in the VLM's answer
    request_side: int = 1024  # the marked image is sent with its long side at most this many pixels
    # multipanel builds: compose this many figures (0: a marks build)
    multipanel: int = 0
    min_panels: int = 2
    max_panels: int = 9
    panel_unit: int = 320  # pixels of one grid cell
    # output
    shard_images: int = 1000
    png_level: int = 6

    def __post_init__(self) -> None:
        allowed = PANEL_TASKS if self.multipanel else MARK_TASKS
        if not self.tasks or any(t not in allowed for t in self.tasks):
            raise ValueError(f"som.tasks must be a non-empty subset of {allowed}, got {list(self.tasks)}")
        if not 2 <= self.min_panels <= self.max_panels <= 9:
            raise ValueError(f"som panels: need 2 <= min_panels <= max_panels <= 9, got {self.min_panels}, {self.max_panels}")
        if self.max_turns < 1 or self.max_list < 1 or self.max_relations < 0 or self.request_side < 64:
            raise ValueError("som: max_turns and max_list >= 1, max_relations >= 0, request_side >= 64")
        if self.shard_images < 1 or self.multipanel < 0 or not 0 <= self.png_level <= 9:
            raise ValueError("som: shard_images >= 1, multipanel >= 0, png_level in 0..9")

    @property
    def annotated(self) -> bool:
        """Whether a VLM is asked (some task needs one)."""
        return any(t in ANNOTATED for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tasks"] = list(self.tasks)
        return out
