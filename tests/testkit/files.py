"""Fixture files: JSON, JSON lines and plain grey images, with their parent folders created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """One row a line: strings as they are (to write malformed lines), anything else as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_image(path: Path, size: tuple[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (127, 127, 127)).save(path)
    return path
