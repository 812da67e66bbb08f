"""``OcrConfig`` validation names the offending field."""

from __future__ import annotations

import pytest

from sphinx_x.engines.ocr.config import OcrConfig


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="ocr.tasks"):
        OcrConfig(tasks=("reading", "poetry"))
    with pytest.raises(ValueError, match="ocr.png_level"):
        OcrConfig(png_level=12)
