"""``OcrConfig`` validation names the offending field."""

from __future__ import annotations

import pytest

from sphinx_x.engines.ocr.config import OcrConfig


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="ocr.tasks"):
        OcrConfig(tasks=("reading", "poetry"))
    with pytest.raises(ValueError, match="ocr.png_level"):
        OcrConfig(png_level=12)


def test_new_reading_and_filter_settings_are_validated() -> None:
    with pytest.raises(ValueError, match=r"ocr.furniture must be one of \('last', 'drop', 'keep'\), got 'middle'"):
        OcrConfig(furniture="middle")
    with pytest.raises(ValueError, match=r"ocr.max_symbol_ratio must be in \[0, 1\], got 1.5"):
        OcrConfig(max_symbol_ratio=1.5)
    with pytest.raises(ValueError, match="ocr.reading_max_chars"):
        OcrConfig(reading_max_chars=50)
    with pytest.raises(ValueError, match="ocr.margin"):
        OcrConfig(margin=0.6)
