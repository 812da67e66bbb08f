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
    """A record that cannot be trained on; ``reason`` is a short, countable code.

    ``where`` locates the item in its source as ``<file>:<line or index>`` when the reader knows it;
    the reject id is ``<source>:<where>`` (see :func:`reject_id`).
    """

    def __init__(self, reason: str, detail: str = "", record_id: str | None = None, where: str | None = None):
        self.reason = reason
        self.detail = detail
        self.record_id = record_id
        self.where = where
        super().__init__(reason, detail, record_id, where)  # args: picklable across DataLoader workers

    def __str__(self) -> str:
        place = self.record_id or self.where
        where = f" (record {place})" if place else ""
        return f"{self.reason}{where}: {self.detail}" if self.detail else f"{self.reason}{where}"


STAGES = ("load", "train", "val")


def record_key(record_id: str | None, source: str) -> str:
    """A record id without its ``<source>/`` prefix (the reader's own key for the item)."""
    key = str(record_id) if record_id else "?"
    return key.removeprefix(f"{source}/")


def reject_id(source: str, file: str, error: RecordError) -> str:
    """``<source>:<file>:<line or index>`` where the reader located the item; a record rejected after
    reading (records do not carry file positions) is ``<source>:<file>:id=<its key>``, ``file`` being
    the source's annotation file and the key its id without the ``<source>/`` prefix."""
    if error.where:
        return f"{source}:{error.where}"
    return f"{source}:{file}:id={record_key(error.record_id, source)}"


class RejectLog:
    """The one ledger of rejected records: counts per source and reason, rows in a JSONL file.

    Rows written at load time (``stage: load``) come from rank 0 only, since every rank reads the same
    sources. Training rejects are counted where a batch is consumed: each rank writes its own rows and
    the training step adds the totals summed over ranks (:meth:`add_consumed`), so every rank holds the
    same counts, which checkpoints carry on (:meth:`state_dict`). Validation rejects are written once
    per record and not counted (they are never trained on).
    """

    def __init__(self, path: str | Path | None = None, strict: bool = False, rank: int = 0):
        self.path = Path(path) if path else None
        self.strict = strict
        self.rank = rank
        self.counts: Counter[tuple[str, str]] = Counter()  # (source, reason) of rows this process wrote
        self.loaded: Counter[str] = Counter()  # load-time rejects per source (same on every rank)
        self.consumed: Counter[str] = Counter()  # rejected training draws per source, summed over ranks
        self._val_seen: set[str] = set()

    def add(self, source: str, error: RecordError, file: str = "") -> None:
        """A reader's reject: counted, and written by rank 0 (or raised when strict)."""
        if self.strict:
            raise error
        self.loaded[source] += 1
        self.counts[(source, error.reason)] += 1
        if self.rank == 0:
            self._write([self.row(source, error, file, "load")])

    def write_consumed(self, rows: list[dict[str, Any]]) -> None:
        """This rank's rejected training draws (rows of :meth:`row`), as consumed."""
        for row in rows:
            self.counts[(row["source"], row["reason"])] += 1
        self._write(rows)

    def add_consumed(self, per_source: dict[str, int]) -> None:
        """Rejected training draws of one step, summed over ranks."""
        for source, n in per_source.items():
            if n:
                self.consumed[source] += int(n)

    def write_validation(self, rows: list[dict[str, Any]]) -> None:
        """Validation rejects: written once per record by rank 0, not counted."""
        fresh = [row for row in rows if row["id"] not in self._val_seen]
        self._val_seen.update(row["id"] for row in fresh)
        if self.rank == 0:
            self._write(fresh)

    @staticmethod
    def row(source: str, error: RecordError, file: str, stage: str) -> dict[str, Any]:
        return {"id": reject_id(source, file, error), "source": source, "reason": error.reason,
                "detail": error.detail, "record": error.record_id, "stage": stage}

    def per_source(self) -> dict[str, int]:
        """Rejected records per source: at load time plus training draws (over all ranks)."""
        return {k: v for k, v in (self.loaded + self.consumed).items() if v}

    def total(self) -> int:
        return sum(self.per_source().values())

    def state_dict(self) -> dict[str, Any]:
        return {"consumed": dict(self.consumed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consumed = Counter({str(k): int(v) for k, v in (state.get("consumed") or {}).items()})

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if self.path is None or not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:  # one write per batch of rows: appends from ranks do not interleave
            f.write("".join(json.dumps(row) + "\n" for row in rows))


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

    Every field is type-checked first (any JSON value yields a reason, never a traceback). Checks:
    required fields; a non-empty conversation whose turns alternate user -> assistant (one optional
    leading system message) and end with an assistant turn; image paths are non-empty strings, one
    per ``<image>``; every ``<region:K>`` refers to an existing region; boxes and points are finite
    numbers, boxes non-degenerate and, when ``image_sizes`` (width, height) are given, inside the image.
    """
    if not isinstance(record, dict):
        raise RecordError("malformed_item", f"a record must be an object, got {json_kind(record)}")
    rid = record.get("id")
    rid = rid if isinstance(rid, str) else None
    for key in ("id", "source", "task"):
        if key not in record:
            raise RecordError("missing_field", key, rid)
        if not isinstance(record[key], str) or not record[key]:
            raise RecordError("bad_type", f"{key}: expected a non-empty string, got {json_kind(record[key])}", rid)
    if "messages" not in record:
        raise RecordError("missing_field", "messages", rid)
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise RecordError("empty_conversation", "" if isinstance(messages, list) else json_kind(messages), rid)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RecordError("bad_turn", f"message {i}: expected {{role, content}} with a role in {ROLES}", rid)
        if not isinstance(message.get("content"), str):
            raise RecordError("empty_turn", f"message {i}: content is {json_kind(message.get('content'))}", rid)
        if not _is_unicode(message["content"]):
            raise RecordError("bad_text", f"message {i}: not valid Unicode (a lone surrogate)", rid)
    body = messages[1:] if messages[0]["role"] == "system" else messages
    if not body:
        raise RecordError("empty_conversation", "only a system message", rid)
    for i, message in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise RecordError("roles_out_of_order", f"turn {i} is {message['role']!r}, expected {expected!r}", rid)
        if not message["content"].strip():
            raise RecordError("empty_turn", f"turn {i}", rid)
        if expected == "assistant" and IMAGE_TOKEN in message["content"]:
            raise RecordError("image_in_answer", f"turn {i}", rid)
    if body[-1]["role"] != "assistant":
        raise RecordError("no_answer", "conversation ends with a user turn", rid)

    images = record.get("images", [])
    if not isinstance(images, list) or not all(isinstance(p, str) and p.strip() for p in images):
        raise RecordError("bad_image_path", f"images must be a list of paths, got {short_repr(images)}", rid)
    n_tokens = sum(m["content"].count(IMAGE_TOKEN) for m in messages)
    if n_tokens != len(images):
        raise RecordError("image_count_mismatch", f"{n_tokens} <image> tokens for {len(images)} images", rid)

    regions = record.get("regions", [])
    if not isinstance(regions, list):
        raise RecordError("bad_region", f"regions must be a list, got {json_kind(regions)}", rid)
    for message in messages:
        for k in REGION_PATTERN.findall(message["content"]):
            if int(k) >= len(regions):
                raise RecordError("unknown_region", f"<region:{k}> with {len(regions)} regions", rid)
    for k, region in enumerate(regions):
        _validate_region(region, k, len(images), image_sizes, rid)
    if not isinstance(record.get("meta", {}), dict):
        raise RecordError("bad_type", f"meta: expected an object, got {json_kind(record['meta'])}", rid)


def _validate_region(region: Any, k: int, n_images: int, image_sizes: list[tuple[int, int]] | None,
                     rid: str | None) -> None:
    if not isinstance(region, dict):
        raise RecordError("bad_region", f"region {k} is {json_kind(region)}, expected an object", rid)
    image = region.get("image", 0)
    if not _is_int(image) or not 0 <= image < n_images:
        raise RecordError("bad_region", f"region {k} refers to image {short_repr(image)} of {n_images}", rid)
    if "box" in region:
        x1, y1, x2, y2 = _coords(region["box"], 4, f"region {k} box", rid)
        if x2 <= x1 or y2 <= y1:
            raise RecordError("degenerate_box", f"region {k}: {region['box']}", rid)
        points = [(x1, y1), (x2, y2)]
    elif "point" in region:
        points = [tuple(_coords(region["point"], 2, f"region {k} point", rid))]
    else:
        raise RecordError("bad_region", f"region {k} has neither 'box' nor 'point'", rid)
    if image_sizes is not None:
        width, height = image_sizes[image]
        for x, y in points:
            if x < 0 or y < 0 or x > width or y > height:
                raise RecordError("box_outside_image", f"region {k} {points} outside {width}x{height}", rid)


def _coords(values: Any, n: int, what: str, rid: str | None) -> list[float]:
    """``n`` finite numbers (booleans, strings, null and NaN are not coordinates)."""
    if not isinstance(values, (list, tuple)) or len(values) != n:
        raise RecordError("bad_region", f"{what} needs {n} numbers, got {short_repr(values)}", rid)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) for v in values):
        raise RecordError("bad_region", f"{what}: not {n} finite numbers: {short_repr(values)}", rid)
    return [float(v) for v in values]


def _is_unicode(text: str) -> bool:
    """Encodable as UTF-8 (JSON's ``"\\ud800"`` decodes to a lone surrogate that tokenizers refuse)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def json_kind(value: Any) -> str:
    """A JSON value's kind for messages: ``null``, ``a string``, ``a list``, ..."""
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
