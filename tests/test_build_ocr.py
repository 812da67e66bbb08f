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


def test_every_option_has_help_and_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from sphinx_x.build_ocr import build_parser, parse_args

    with pytest.raises(SystemExit):
        parse_args(["-h"])
    text = capsys.readouterr().out
    options = [a for a in build_parser()._actions if not isinstance(a, argparse._HelpAction)]
    assert len(options) == 30 and all(a.help for a in options)
    assert all(a.option_strings[0] in text for a in options)
    assert text.count("(default:") == len(options)
    assert "--furniture {last,drop,keep}" in text and "(default: last)" in text


def test_a_held_lock_and_changed_settings_give_one_line(corpus: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from sphinx_x.engines.ocr.shard_writer import LOCK

    out = tmp_path / "out"
    assert main(["--input", str(corpus / "a_columns.pdf"), "--out", str(out), "--dpi", "72", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--input", str(corpus), "--out", str(out), "--dpi", "144", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (f"sphinx-x-build-ocr: {out} was built with other settings (dpi=72.0 there, 144.0 now); "
                   "rerun with the same settings to resume it, or write to a new --out\n")
    (out / LOCK).write_text(json.dumps({"host": os.uname().nodename, "pid": os.getppid()}))
    assert main(["--input", str(corpus), "--out", str(out), "--dpi", "72", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (f"sphinx-x-build-ocr: {out} is being written by another build (pid {os.getppid()} on "
                   f"{os.uname().nodename}): wait for it, or delete {out / LOCK} if it is not running\n")
    (out / LOCK).unlink()
    assert main(["--input", str(tmp_path / "nowhere"), "--out", str(out), "--dpi", "72", "--quiet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_rerun_with_nothing_to_do_says_what_it_skipped(corpus: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--input", str(corpus / "a_columns.pdf"), "--out", str(tmp_path), "--dpi", "72", "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["last_run"] == {"pdfs_found": 1, "pdfs_skipped": 1, "pdfs_processed": 0, "pages_seen": 0,
                                   "pages_kept": 0}
    assert summary["pdfs"] == {"seen": 1, "kept": 1, "filtered": 0, "rejected": 0}
    assert summary["pages"] == {"seen": 3, "kept": 2, "filtered": 1, "rejected": 0}
