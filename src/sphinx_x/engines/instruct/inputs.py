"""The engine's input: a folder with one sub-folder of images per domain (``<root>/<domain>/**/<image>``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class InstructItem:
    ident: str  # <domain>/<path below the domain folder>
    domain: str
    image: str


def folder_items(root: str | Path, domains: Sequence[str] | None = None) -> Iterator[InstructItem]:
    """Images of each domain folder in name order (domains in name order, or as given)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist")
    names = list(domains) if domains else sorted(p.name for p in root.iterdir() if p.is_dir())
    if missing := [d for d in names if not (root / d).is_dir()]:
        raise ValueError(f"{root} has no folder for domain(s) {missing}")
    for domain in names:
        for path in sorted((root / domain).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                yield InstructItem(f"{domain}/{path.relative_to(root / domain).as_posix()}", domain, str(path))


def domains_of(root: str | Path) -> list[str]:
    """The domain folders under ``root``."""
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir())
