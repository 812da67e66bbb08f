"""The SoM engine end to end on a COCO-format fixture with a scripted loopback VLM: records on the raw
image, rejects with reasons, retries, the cache (a rerun costs nothing), usage and cost in the manifest,
units left for the next run, multipanel figures, and resuming after a killed build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sphinx_x.data.geometry import ImageFrame, write_regions
from sphinx_x.data.records import REGION_PATTERN, validate_record
from sphinx_x.engines.api_client import ApiConfig
from sphinx_x.engines.som.config import SomConfig
from sphinx_x.engines.som.draw import MarkStyle, draw_marks
from sphinx_x.engines.som.inputs import coco_items
from sphinx_x.engines.som.marks import Mark
from sphinx_x.engines.som.pipeline import build
from sphinx_x.engines.som.shards import read_manifest
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.paths import REPO
from tests.testkit.som import write_coco


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> tuple[Path, Path]:
    return write_coco(tmp_path_factory.mktemp("coco"), n=3)


def items(coco):
    return coco_items(coco[0], coco[1], "natural", "coco")


def api(url: str, **overrides) -> ApiConfig:
    return ApiConfig(url, "fake", **{"max_retries": 3, "backoff": 0.01, "timeout": 5.0, "requests_per_minute": 1e9,
                                     "concurrency": 2, "price_input": 1.0, "price_output": 2.0, **overrides})


def shard_docs(out: Path) -> list[dict]:
    docs = []
    for shard in sorted(out.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            docs += [json.load(tar.extractfile(m)) for m in tar if m.name.endswith(".json")]
    return docs


def records_of(out: Path, task: str | None = None) -> list[dict]:
    return [r for d in shard_docs(out) for r in d["records"] if task is None or r["task"] == task]


def rejects_of(out: Path) -> list[dict]:
    path = out / "rejects.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_without_an_api_the_marks_alone_make_valid_records_whose_view_can_be_redrawn(coco, tmp_path):
    manifest = build(items(coco), tmp_path / "out", SomConfig(tasks=("som_marks",)), progress=False)
    assert manifest["units"] == {"seen": 3, "written": 3, "rejected": 0} and manifest["records_per_task"] == {"som_marks": 3}
    assert manifest["stats"] == {"marks_drawn": 12, "marks_tiny": 3} and manifest["usage"]["api_requests"] == 0
    item = list(items(coco))[0]
    (record,) = [r for r in records_of(tmp_path / "out") if r["meta"]["image_id"] == item.ident]
    validate_record(record, [(item.width, item.height)])
    frame = ImageFrame.fit(item.width, item.height, 448, 2)
    listing = write_regions(record["messages"], record["regions"], [frame])[1]["content"]
    assert listing.startswith("<p>box</p> [") and "<p>person</p> [0.62, 0.47, 0.78, 0.73]" in listing
    assert " box " in record["messages"][2]["content"] and record["messages"][3]["content"] == "2"  # the 3 px box counts
    som = record["meta"]["som"]  # the meta redraws exactly what was drawn
    redrawn = draw_marks(Image.open(item.image), [Mark.from_json(m) for m in som["marks"]], MarkStyle(**som["style"]),
                         som["key"])
    original = draw_marks(Image.open(item.image), item.marks, MarkStyle(**som["style"]), som["key"])
    assert np.array_equal(np.array(redrawn.image), np.array(original.image))
    assert sorted(m["number"] for m in som["marks"]) == [1, 2, 3, 4]


def test_answers_become_grounded_dialogues_and_bad_answers_go_to_rejects(coco, tmp_path):
    with fake_vlm(script=["not_json", "invented"]) as fake:
        manifest = build(items(coco), tmp_path / "out", SomConfig(), api(fake.url, concurrency=1), progress=False)
    rejects = rejects_of(tmp_path / "out")
    assert [(r["pdf"], r["reason"]) for r in rejects] == [("coco/1", "unparsable_json"), ("coco/2", "invented_mark")]
    assert rejects[0]["answer"].startswith("The image shows") and "99" in rejects[1]["detail"]
    assert manifest["records_per_task"] == {"som_annotated": 1, "som_marks": 3}  # the marks records stay
    (record,) = records_of(tmp_path / "out", "som_annotated")
    texts = [m["content"] for m in record["messages"]]
    assert texts[1] == "A scene with <region:0> in it."  # mark [1] is the ball: its box, not its number
    assert record["regions"][0]["box"] == [49.0, 35.0, 139.0, 125.0]
    assert "[1]" not in " ".join(texts) and all(int(k) < len(record["regions"]) for t in texts
                                               for k in REGION_PATTERN.findall(t))
    assert any("is left of" in t for t in texts) and len(texts) == 2 * (1 + 4 + 1)  # caption, 4 marks, 1 relation
    usage = manifest["usage"]
    assert usage == {"api_requests": 3, "api_retries": 0, "api_cache_hits": 0, "prompt_tokens": 3000,
                     "completion_tokens": 600, "cost_usd": 0.0042}
    assert manifest["config"]["api"]["model"] == "fake" and manifest["pending"] == 0


def test_a_rerun_from_the_cache_costs_nothing_and_gives_the_same_records(coco, tmp_path):
    cache = tmp_path / "cache"
    with fake_vlm() as fake:
        first = build(items(coco), tmp_path / "a", SomConfig(), api(fake.url), cache=cache, progress=False)
        second = build(items(coco), tmp_path / "b", SomConfig(), api(fake.url), cache=cache, progress=False)
        assert len(fake.requests) == 3
    assert first["usage"]["prompt_tokens"] == 3000 and second["usage"] == {
        "api_requests": 0, "api_retries": 0, "api_cache_hits": 3, "prompt_tokens": 0, "completion_tokens": 0,
        "cost_usd": 0.0}
    assert records_of(tmp_path / "a") == records_of(tmp_path / "b")


def test_429_500_timeouts_and_malformed_bodies_are_retried_inside_a_build(coco, tmp_path):
    with fake_vlm(script=["429", "500", "timeout", "malformed_body"], slow=1.0) as fake:
        manifest = build(items(coco), tmp_path / "out", SomConfig(), api(fake.url, timeout=0.5), progress=False)
    assert manifest["units"]["written"] == 3 and manifest["rejects"] == {} and manifest["pending"] == 0
    assert manifest["usage"]["api_retries"] == 4 and manifest["usage"]["api_requests"] == 7
    assert manifest["records_per_task"]["som_annotated"] == 3


def test_units_without_an_answer_are_left_for_the_next_run(coco, tmp_path):
    with fake_vlm(default="503") as fake:
        manifest = build(items(coco), tmp_path / "out", SomConfig(), api(fake.url, max_retries=1), progress=False)
    assert manifest["pending"] == 3 and manifest["units"]["seen"] == 0 and not rejects_of(tmp_path / "out")
    with fake_vlm() as fake:
        manifest = build(items(coco), tmp_path / "out", SomConfig(), api(fake.url, max_retries=1), progress=False)
    assert manifest["pending"] == 0 and manifest["units"]["written"] == 3 and len(fake.requests) == 3


def test_a_refused_request_is_a_reject_and_other_settings_are_refused(coco, tmp_path):
    from sphinx_x.engines.ocr.shard_writer import SettingsMismatch

    with fake_vlm(script=["400"]) as fake:
        build(items(coco), tmp_path / "out", SomConfig(), api(fake.url), progress=False)
    assert rejects_of(tmp_path / "out")[0]["reason"] == "api_refused"
    with pytest.raises(SettingsMismatch):
        build(items(coco), tmp_path / "out", SomConfig(tasks=("som_marks",)), progress=False)


def test_bad_inputs_are_rejected_with_their_reason(coco, tmp_path):
    data = json.loads(coco[0].read_text())
    data["images"].append({"id": 9, "file_name": "missing.png", "width": 320, "height": 240})
    data["annotations"] += [{"id": 90, "image_id": 9, "category_id": 1, "bbox": [1, 1, 50, 50]},
                            {"id": 91, "image_id": 1, "category_id": 1, "bbox": [1, 1, 50, 50],
                             "segmentation": [[1, 2, 3, 4]]},
                            {"id": 92, "image_id": 77, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    manifest = build(coco_items(path, coco[1], "natural", "coco"), tmp_path / "out", SomConfig(tasks=("som_marks",)),
                     progress=False)
    assert manifest["rejects"] == {"bad_segmentation": 1, "missing_image": 1, "unknown_image": 1}
    assert manifest["units"] == {"seen": 5, "written": 2, "rejected": 3}


def test_multipanel_figures_ask_what_the_annotations_answer(coco, tmp_path):
    cfg = SomConfig(tasks=("multipanel", "multipanel_annotated"), multipanel=4, max_panels=3, panel_unit=160)
    with fake_vlm() as fake:
        manifest = build(items(coco), tmp_path / "out", cfg, api(fake.url), progress=False)
        assert "(a), (b)" in fake.requests[0]["messages"][1]["content"][1]["text"]
    assert manifest["units"]["written"] == 4 and manifest["records_per_task"] == {"multipanel": 4,
                                                                                  "multipanel_annotated": 4}
    for doc in shard_docs(tmp_path / "out"):
        plain, annotated = doc["records"]
        panels = doc["panels"]
        assert 2 <= len(panels) <= 3 and plain["messages"][1]["content"] == str(len(panels))
        for k, message in enumerate(plain["messages"]):
            if "In panel (" in message["content"] or "in panel (" in message["content"]:
                letter = message["content"].split("panel (")[1][0]
                x1, y1, x2, y2 = next(p["box"] for p in panels if p["label"] == f"({letter})")
                (index,) = REGION_PATTERN.findall(plain["messages"][k + 1]["content"])
                bx1, by1, bx2, by2 = plain["regions"][int(index)]["box"]
                assert x1 - 0.01 <= bx1 < bx2 <= x2 + 0.01 and y1 - 0.01 <= by1 < by2 <= y2 + 0.01
        assert "panel (a)" in annotated["messages"][1]["content"] and "[a]" not in json.dumps(annotated["messages"])
        validate_record(plain, [(doc["width"], doc["height"])])


def test_resume_after_a_killed_build_loses_and_duplicates_nothing(tmp_path):
    coco_json, images = write_coco(tmp_path / "coco", n=6)
    out = tmp_path / "out"
    with fake_vlm(delay=0.25) as fake:
        args = ["--coco", str(coco_json), "--image-root", str(images), "--out", str(out), "--base-url", fake.url,
                "--model", "fake", "--concurrency", "1", "--quiet"]
        proc = subprocess.Popen([sys.executable, "-m", "sphinx_x.build_som", *args], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.time() + 60
        while time.time() < deadline and (not (out / "done.jsonl").exists()
                                          or len((out / "done.jsonl").read_text().splitlines()) < 2):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = len((out / "done.jsonl").read_text().splitlines())
        assert 2 <= killed_at < 6, "the build finished before it could be killed"
        asked_before = len(fake.requests)
        from sphinx_x.build_som import main

        assert main(args) == 0
        asked_after = len(fake.requests) - asked_before
    done = [json.loads(line)["pdf"] for line in (out / "done.jsonl").read_text().splitlines()]
    assert sorted(done) == [f"coco/{k}" for k in range(1, 7)]
    assert asked_after <= 6 - killed_at  # answers of units not yet committed came from the cache
    with tarfile.open(out / "shard-000000.tar") as tar:
        names = tar.getnames()
    assert len(names) == len(set(names)) == 12
    reference = tmp_path / "reference"
    with fake_vlm() as fake:
        build(coco_items(coco_json, images, "natural", "coco"), reference, SomConfig(), api(fake.url), progress=False)
    assert records_of(out) == records_of(reference)
    assert read_manifest(out)["records_per_task"] == {"som_annotated": 6, "som_marks": 6}
