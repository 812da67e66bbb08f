"""Reading benchmark rows from Parquet (the Hugging Face releases of MathVista and MMMU) and writing
their embedded images to a cache folder once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_MAGIC = {b"\x89PNG": ".png", b"\xff\xd8": ".jpg", b"GIF8": ".gif", b"RIFF": ".webp", b"BM": ".bmp"}


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Every row of a Parquet file as a dict (nested structs as dicts)."""
    import pyarrow.parquet as pq  # imported here: only these readers need it

    return pq.read_table(path).to_pylist()


def image_extension(data: bytes) -> str:
    return next((ext for magic, ext in _MAGIC.items() if data.startswith(magic)), ".jpg")


def cache_image(data: bytes, folder: Path, stem: str) -> Path:
    """``folder/<stem>.<ext>`` holding ``data`` (written only when missing or of another size)."""
    if not data:
        raise ValueError(f"empty image bytes for {stem}")
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{stem}{image_extension(data)}"
    if not file.exists() or file.stat().st_size != len(data):
        file.write_bytes(data)
    return file
