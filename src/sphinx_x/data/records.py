"""The Record contract: one JSON-serialisable training sample, independent of the model.

A Record is a plain dict::

    {"id": str, "source": str, "task": str, "images": [path, ...],
     "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "regions": [{"image": 0, "box": [x1, y1, x2, y2]} | {"image": 0, "point": [x, y]}, ...],
     "meta": {...}}

``<image>`` in a user message marks where image k goes (k-th occurrence -> ``images[k]``).
``<region:K>`` in any message is replaced at tokenisation by ``regions[K]`` written in the model's
frame (see :mod:`sphinx_x.data.geometry`). Region coordinates are in original image pixels.

A sample that breaks the contract is a :class:`RecordError` with a short reason; :class:`RejectLog`
counts them per source and writes them to the rejects file, so bad input is skipped, never lost.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

IMAGE_TOKEN = "<image>"
REGION_PATTERN = re.compile(r"<region:(\d+)>")
ROLES = ("system", "user", "assistant")

Record = dict[str, Any]


class RecordError(ValueError):
    """A record that cannot be trained on; ``reason`` is a short, countable code."""

    def __init__(self, reason: str, detail: str = "", record_id: str | None = None):
        self.reason = reason
        self.detail = detail
        self.record_id = record_id
        where = f" (record {record_id})" if record_id else ""
        super().__init__(f"{reason}{where}: {detail}" if detail else f"{reason}{where}")


class RejectLog:
    """Counts rejected records per (source, reason) and appends them to a JSONL file."""

    def __init__(self, path: str | Path | None = None, strict: bool = False):
        self.path = Path(path) if path else None
        self.strict = strict
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, source: str, error: RecordError) -> None:
        if self.strict:
            raise error
        self.counts[(source, error.reason)] += 1
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps({"source": source, "id": error.record_id, "reason": error.reason,
                                    "detail": error.detail}) + "\n")

    def per_source(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (source, _), n in self.counts.items():
            totals[source] += n
        return dict(totals)


def make_record(
    id: str,
    source: str,
    task: str,
    messages: list[dict[str, str]],
    images: list[str] | None = None,
    regions: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
) -> Record:
    """Build a Record with the optional fields only when they carry something."""
    record: Record = {"id": id, "source": source, "task": task, "images": list(images or []),
                      "messages": messages}
    if regions:
        record["regions"] = regions
    if meta:
        record["meta"] = meta
    return record


def conversation(*turns: str, system: str | None = None) -> list[dict[str, str]]:
    """Messages from alternating user / assistant strings: ``conversation(q1, a1, q2, a2)``."""
    messages = [{"role": "system", "content": system}] if system else []
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return messages


def validate_record(record: Record, image_sizes: list[tuple[int, int]] | None = None) -> None:
    """Raise :class:`RecordError` unless the record honours the contract.

    Checks: required fields; a non-empty conversation whose turns alternate user -> assistant
    (one optional leading system message) and end with an assistant turn; one image per
    ``<image>``; every ``<region:K>`` refers to an existing region; boxes are finite,
    non-degenerate and, when ``image_sizes`` (width, height) are given, inside the image.
    """
    rid = str(record.get("id", "?"))
    for key in ("id", "source", "task", "messages"):
        if key not in record:
            raise RecordError("missing_field", key, rid)
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise RecordError("empty_conversation", "", rid)
    body = messages[1:] if messages[0].get("role") == "system" else messages
    if not body:
        raise RecordError("empty_conversation", "only a system message", rid)
    for i, message in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if message.get("role") != expected:
            raise RecordError("roles_out_of_order", f"turn {i} is {message.get('role')!r}, expected {expected!r}", rid)
        if not isinstance(message.get("content"), str) or not message["content"].strip():
            raise RecordError("empty_turn", f"turn {i}", rid)
        if expected == "assistant" and IMAGE_TOKEN in message["content"]:
            raise RecordError("image_in_answer", f"turn {i}", rid)
    if body[-1]["role"] != "assistant":
        raise RecordError("no_answer", "conversation ends with a user turn", rid)

    images = record.get("images", [])
    n_tokens = sum(m["content"].count(IMAGE_TOKEN) for m in messages)
    if n_tokens != len(images):
        raise RecordError("image_count_mismatch", f"{n_tokens} <image> tokens for {len(images)} images", rid)

    regions = record.get("regions", [])
    for message in messages:
        for k in REGION_PATTERN.findall(message["content"]):
            if int(k) >= len(regions):
                raise RecordError("unknown_region", f"<region:{k}> with {len(regions)} regions", rid)
    for k, region in enumerate(regions):
        _validate_region(region, k, len(images), image_sizes, rid)


def _validate_region(region: dict[str, Any], k: int, n_images: int,
                     image_sizes: list[tuple[int, int]] | None, rid: str) -> None:
    image = region.get("image", 0)
    if not 0 <= image < max(n_images, 1) or n_images == 0:
        raise RecordError("bad_region", f"region {k} refers to image {image} of {n_images}", rid)
    if "box" in region:
        coords = region["box"]
        if len(coords) != 4:
            raise RecordError("bad_region", f"region {k} box needs 4 numbers", rid)
        x1, y1, x2, y2 = (float(c) for c in coords)
        if not all(map(_finite, (x1, y1, x2, y2))) or x2 <= x1 or y2 <= y1:
            raise RecordError("degenerate_box", f"region {k}: {coords}", rid)
        points = [(x1, y1), (x2, y2)]
    elif "point" in region:
        if len(region["point"]) != 2:
            raise RecordError("bad_region", f"region {k} point needs 2 numbers", rid)
        points = [tuple(float(c) for c in region["point"])]
        if not all(_finite(c) for p in points for c in p):
            raise RecordError("bad_region", f"region {k}: {region['point']}", rid)
    else:
        raise RecordError("bad_region", f"region {k} has neither 'box' nor 'point'", rid)
    if image_sizes is not None:
        width, height = image_sizes[image]
        for x, y in points:
            if x < 0 or y < 0 or x > width or y > height:
                raise RecordError("box_outside_image", f"region {k} {points} outside {width}x{height}", rid)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
