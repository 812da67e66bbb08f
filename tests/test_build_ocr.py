"""``sphinx-x-build-ocr`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sphinx_x.build_ocr import main


def test_cli_builds_and_summarises(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--input", str(corpus / "a_columns.pdf"), "--input", str(corpus / "sub"), "--out", str(tmp_path),
                 "--dpi", "72", "--tasks", "reading,layout", "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pages"] == {"seen": 4, "kept": 2, "filtered": 2, "rejected": 0}
    assert summary["rejects"] == {"duplicate_page": 2}
    assert summary["last_run"]["pdfs_found"] == 2 and summary["last_run"]["pdfs_skipped"] == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["records_per_task"]) == {"ocr_reading", "layout"}
    assert manifest["config"]["tasks"] == ["reading", "layout"]


def test_cli_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--input", str(tmp_path), "--out", str(tmp_path / "o"), "--tasks", "reading,poetry"]) == 2
    assert "ocr.tasks" in capsys.readouterr().err
