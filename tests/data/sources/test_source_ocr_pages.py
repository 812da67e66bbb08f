"""The ``ocr_pages`` reader over the engine's output: Records, cached images, task filter, safety."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from sphinx_x.data.geometry import ImageFrame, write_regions
from sphinx_x.data.prompts import OCR_POOLS, PromptPool
from sphinx_x.data.records import RejectLog
from sphinx_x.data.sources.base import SourceSpec, iter_source


def spec(path: Path, **options) -> SourceSpec:
    return SourceSpec(name="pdf_ocr", reader="ocr_pages", path=str(path), group="ocr", task="ocr", options=options)


def read(path: Path, prompts: PromptPool | None = None, **options) -> tuple[list[dict], RejectLog]:
    rejects = RejectLog()
    return list(iter_source(spec(path, **options), prompts or PromptPool(), rejects)), rejects


def test_records_point_at_cached_images(built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    records, rejects = read(out, image_cache=str(tmp_path / "cache"))
    assert len(records) == manifest["records"] and not rejects.counts
    for record in records:
        assert record["source"] == "pdf_ocr"
        (image,) = record["images"]
        assert image.startswith(str(tmp_path / "cache"))
        with Image.open(image) as im:
            for region in record.get("regions", []):
                assert region["box"][2] <= im.size[0] and region["box"][3] <= im.size[1]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [s["name"][:-4] for s in manifest["shards"]]
    assert all((tmp_path / "cache" / s["name"][:-4] / ".complete").exists() for s in manifest["shards"])
    again, _ = read(out, image_cache=str(tmp_path / "cache"))
    assert again == records


def test_task_filter_and_prompt_repick(built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    records, _ = read(out, PromptPool(fixed=True), tasks=["spotting", "text_grounding"],
                      image_cache=str(tmp_path / "c"))
    assert {r["task"] for r in records} == {"text_spotting", "text_grounding"}
    assert len(records) == manifest["records_per_task"]["text_spotting"] + manifest["records_per_task"]["text_grounding"]
    whole_page = [r for r in records if r["task"] == "text_spotting" and r["meta"]["parts"] == 1]
    assert whole_page and all(r["messages"][0]["content"] == "<image>\n" + OCR_POOLS["text_spotting"][0]
                              for r in whole_page)
    grounding = next(r for r in records if r["task"] == "text_grounding")
    assert grounding["messages"][2]["content"] == OCR_POOLS["text_grounding"][0].format(
        text=grounding["meta"]["prompts"][1]["fields"]["text"])
    with pytest.raises(ValueError, match="options.tasks"):
        read(out, tasks=["poetry"])


def test_uncommitted_members_are_ignored(built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("image_cache"))
    last = sorted(copy.glob("shard-*.tar"))[-1]
    with tarfile.open(last, "a") as tar:  # a member a killed build wrote after its last done line
        data = b'{"records": [{"id": "ghost"}]}'
        info = tarfile.TarInfo("ghost_p00000.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    records, rejects = read(copy, image_cache=str(tmp_path / "cache"))
    assert len(records) == manifest["records"] and not rejects.counts
    assert all(r["id"] != "ghost" for r in records)


def test_answers_render_in_the_sphinx_box_style(built: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = built
    records, _ = read(out, tasks=["text_spotting", "text_grounding"], image_cache=str(tmp_path / "c"))
    entry = re.compile(r"<p>[^<]+</p> \[\d\.\d\d, \d\.\d\d, \d\.\d\d, \d\.\d\d\]")
    for record in records:
        with Image.open(record["images"][0]) as im:
            frame = ImageFrame.fit(*im.size, side=448, grid=2)
        answer = write_regions(record["messages"], record["regions"], [frame])[1]["content"]
        if record["task"] == "text_spotting":
            assert all(entry.fullmatch(part) for part in answer.split("\n")), answer
        else:
            assert re.fullmatch(r"\[\d\.\d\d, \d\.\d\d, \d\.\d\d, \d\.\d\d\]", answer)
