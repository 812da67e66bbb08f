"""``sphinx-x-build-som``: every option documented, bad combinations refused with exit code 2."""

from __future__ import annotations

import pytest

from sphinx_x.build_som import main, parse_args
from tests.testkit.som import write_coco


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--coco", "--source", "--out", "--base-url", "--model", "--concurrency", "--rpm", "--max-retries",
                   "--cache", "--multipanel", "--max-marks", "--min-area", "--seed", "--price-input"):
        assert option in text
    assert "(default: 20)" in text  # --max-marks, from MarkStyle


@pytest.mark.parametrize("argv", [
    ["--out", "o"],  # no input
    ["--coco", "a.json", "--source", "totaltext", "--out", "o"],
    ["--coco", "a.json", "--out", "o", "--base-url", "http://127.0.0.1:1/v1"],  # no --model
])
def test_bad_command_lines_exit_2(argv):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2


def test_settings_that_cannot_work_exit_2(tmp_path, capsys):
    coco, images = write_coco(tmp_path, n=1)
    base = ["--coco", str(coco), "--image-root", str(images), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*base, "--tasks", "som_annotated"]) == 2
    assert "ask a VLM" in capsys.readouterr().err
    assert main([*base, "--max-panels", "12", "--multipanel", "2"]) == 2
    assert main([*base, "--tasks", "som_marks"]) == 0
    assert main([*base, "--tasks", "som_marks", "--seed", "5"]) == 2  # other settings than the folder's
    assert "other settings" in capsys.readouterr().err
