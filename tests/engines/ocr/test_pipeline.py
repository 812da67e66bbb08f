"""The engine end to end: filters and their counts, shard contents, parallel runs, resuming."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from sphinx_x.data.ocr.shards import DONE, REJECTS
from sphinx_x.data.records import validate_record
from sphinx_x.engines.ocr import pipeline
from sphinx_x.engines.ocr.config import OcrConfig
from sphinx_x.engines.ocr.pipeline import build, discover
from sphinx_x.engines.ocr.pipeline import process_pdf as _process_pdf
from sphinx_x.engines.ocr.shard_writer import LOCK
from tests.testkit.pdfs import CFG, KNOWN, KNOWN_AT, KNOWN_SIZE, simple_pdf

EXPECTED_REJECTS = {"duplicate_page": 2, "empty_page": 1, "no_text_layer": 1, "too_little_text": 1,
                    "symbol_soup": 1, "invisible_text_only": 1, "corrupt_pdf": 1, "encrypted_pdf": 1, "empty_pdf": 1}


def shard_members(out: Path) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for shard in sorted(out.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar:
                assert m.name not in members, f"{m.name} written twice"
                members[m.name] = tar.extractfile(m).read()
    return members


def rejects(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / REJECTS).read_text().splitlines()]


def test_discover_walks_folders_and_lists(corpus: Path, tmp_path: Path) -> None:
    found = discover([corpus])
    assert [ident for _, ident in found] == ["a_columns.pdf", "b_mixed.pdf", "d_corrupt.pdf", "e_encrypted.pdf",
                                             "f_empty.pdf", "sub/c_dup.pdf"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# comment\n{corpus / 'a_columns.pdf'}\n\n")
    assert discover([listing]) == [(str(corpus / "a_columns.pdf"), str(corpus / "a_columns.pdf"))]


def test_filters_and_counts(built: tuple[Path, dict]) -> None:
    out, manifest = built
    assert manifest["pdfs"] == {"seen": 6, "kept": 2, "filtered": 1, "rejected": 3}
    assert manifest["pages"] == {"seen": 10, "kept": 3, "filtered": 7, "rejected": 0}
    assert manifest["rejects"] == EXPECTED_REJECTS
    assert Counter(r["reason"] for r in rejects(out)) == EXPECTED_REJECTS
    by_reason = {(r["pdf"], r["page"]): r["reason"] for r in rejects(out)}
    assert by_reason[("a_columns.pdf", 2)] == "duplicate_page"
    assert by_reason[("sub/c_dup.pdf", 0)] == "duplicate_page"
    assert by_reason[("b_mixed.pdf", 1)] == "empty_page"
    assert by_reason[("b_mixed.pdf", 2)] == "no_text_layer"
    assert by_reason[("e_encrypted.pdf", None)] == "encrypted_pdf"
    assert manifest["stats"]["dehyphenated"] == 3 and manifest["stats"]["pages_rotated"] == 1
    assert manifest["stats"]["pages_uprighted"] == 1
    assert sum(s["pages"] for s in manifest["shards"]) == 3
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert not (out / LOCK).exists()


def test_shards_hold_valid_records_and_images(built: tuple[Path, dict]) -> None:
    out, manifest = built
    members = shard_members(out)
    docs = {name[:-5]: json.loads(data) for name, data in members.items() if name.endswith(".json")}
    assert sorted(members) == sorted([f"{k}.png" for k in docs] + [f"{k}.json" for k in docs])
    assert sorted((d["pdf"], d["page"]) for d in docs.values()) == [("a_columns.pdf", 0), ("a_columns.pdf", 1),
                                                                   ("b_mixed.pdf", 0)]
    n_records = 0
    for key, doc in docs.items():
        image = Image.open(io.BytesIO(members[f"{key}.png"]))
        assert image.size == (doc["width"], doc["height"])
        for record in doc["records"]:
            validate_record(record, [image.size])
            assert record["images"] == [f"{key}.png"] and record["source"] == "pdf_ocr"
        n_records += len(doc["records"])
        assert {r["task"] for r in doc["records"]} == {"ocr_reading", "text_spotting", "ocr_region_reading",
                                                      "text_grounding", "layout"}
    assert n_records == manifest["records"]
    page0 = next(d for d in docs.values() if d["pdf"] == "a_columns.pdf" and d["page"] == 0)
    assert page0["width"] == 612 and page0["height"] == 792
    spot = next(r for r in page0["records"] if r["task"] == "text_spotting")
    assert spot["messages"][0]["content"].startswith("<image>\n")
    answer = spot["messages"][1]["content"]
    entries = answer.split("\n")
    k = next(i for i, e in enumerate(entries) if e.startswith(f"<p>{KNOWN}</p>"))
    region = int(entries[k].split("<region:")[1].rstrip(">"))
    x, y = KNOWN_AT
    box = spot["regions"][region]["box"]
    assert box[0] == pytest.approx(x, abs=1) and box[1] < y < box[3] and box[3] - box[1] < 2 * KNOWN_SIZE
    reading = next(r for r in page0["records"] if r["task"] == "ocr_reading")
    assert "information that remains" in reading["messages"][1]["content"]
    rotated = next(d for d in docs.values() if d["pdf"] == "b_mixed.pdf")
    assert rotated["rotation"] == 90 and (rotated["width"], rotated["height"]) == (612, 792)


def test_long_pages_become_several_exact_samples(corpus: Path, tmp_path: Path) -> None:
    cfg = OcrConfig(dpi=72, max_chars=200, max_regions=3, reading_max_chars=200, tasks=("reading", "spotting"))
    build([corpus / "a_columns.pdf"], tmp_path, cfg, progress=False)
    doc = next(json.loads(v) for k, v in shard_members(tmp_path).items() if k.endswith("_p00000.json"))
    lines = [ln["text"] for ln in doc["text"]["lines"]]
    spots = [r for r in doc["records"] if r["task"] == "text_spotting"]
    assert len(spots) > 1 and all(len(r["regions"]) <= 4 for r in spots)
    spotted = [e.split("</p>")[0][3:] for r in spots for e in r["messages"][1]["content"].split("\n")]
    assert spotted == lines  # every line once, in reading order, none cut
    for r in spots:
        assert "<region:0>" in r["messages"][0]["content"] and r["meta"]["parts"] == len(spots)
    readings = [r for r in doc["records"] if r["task"] == "ocr_reading"]
    assert len(readings) > 1
    joined = " ".join(r["messages"][1]["content"].replace("\n", " ") for r in readings)
    assert joined.replace("infor- mation", "information") == " ".join(" ".join(lines).split()).replace(
        "infor- mation", "information")


def test_parallel_run_matches_serial(corpus: Path, built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    parallel = build([corpus], tmp_path, CFG, workers=2, progress=False)
    assert parallel["pages"] == manifest["pages"] and parallel["records"] == manifest["records"]
    assert parallel["rejects"] == manifest["rejects"]
    assert shard_members(tmp_path) == shard_members(out)  # same members, bytes and order


def test_interrupted_run_resumes_without_duplicates(corpus: Path, built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    first = build([corpus], tmp_path, CFG, max_pdfs=1, progress=False)
    assert first["pdfs"]["seen"] == 1 and first["pages"]["kept"] == 2
    second = build([corpus], tmp_path, CFG, max_pdfs=2, progress=False)
    assert second["pdfs"]["seen"] == 3
    # simulate a kill in the middle of the next PDF: half-written tar data, rejects and done lines, a stale lock
    shard = sorted(tmp_path.glob("shard-*.tar"))[-1]
    with shard.open("ab") as f:
        f.write(b"partial tar member " * 100)
    with (tmp_path / REJECTS).open("a") as f:
        f.write(json.dumps({"pdf": "x", "page": 0, "reason": "empty_page", "detail": ""}) + "\n")
    with (tmp_path / DONE).open("a") as f:
        f.write('{"pdf": "d_corrupt.pdf", "shard"')
    (tmp_path / LOCK).write_text(json.dumps({"host": os.uname().nodename, "pid": 2 ** 22 + 12345}))
    final = build([corpus], tmp_path, CFG, progress=False)
    assert final["pdfs"] == manifest["pdfs"] and final["pages"] == manifest["pages"]
    assert final["rejects"] == manifest["rejects"]
    assert sorted(shard_members(tmp_path)) == sorted(shard_members(out))
    assert Counter(r["reason"] for r in rejects(tmp_path)) == EXPECTED_REJECTS
    again = build([corpus], tmp_path, CFG, progress=False)  # nothing left to do
    assert again["pages"] == manifest["pages"]
    assert again["last_run"] == {"pdfs_found": 6, "pdfs_skipped": 6, "pdfs_processed": 0, "pages_seen": 0,
                                 "pages_kept": 0}


def test_killed_process_resumes_without_duplicates(tmp_path: Path) -> None:
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    for i in range(8):
        simple_pdf(pdfs / f"doc{i}.pdf", 3, f"doc{i}")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sphinx_x.build_ocr", "--input", str(pdfs), "--out", str(out), "--dpi", "72",
           "--shard-pages", "4", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if (out / DONE).exists() and (out / DONE).read_text().count("\n") >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    done_before = (out / DONE).read_text().count("\n")
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    members = shard_members(out)
    assert len(members) == 2 * 8 * 3
    assert (out / DONE).read_text().count("\n") == 8 >= done_before
    pages = Counter(json.loads(v)["pdf"] for k, v in members.items() if k.endswith(".json"))
    assert pages == {f"doc{i}.pdf": 3 for i in range(8)}


def _crash_on_b(path: str, ident: str, cfg: OcrConfig, on_page=None):
    if ident == "b_mixed.pdf":
        os._exit(1)  # a segfault in MuPDF looks like this to the pool
    return _process_pdf(path, ident, cfg, on_page)


def test_crashed_worker_is_a_reject_not_a_hang(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "process_pdf", _crash_on_b)
    manifest = build([corpus], tmp_path, CFG, workers=2, progress=False, pdf_timeout=3)
    assert manifest["pdfs"]["seen"] == 6 and manifest["rejects"]["pdf_timeout"] == 1
    assert {(r["pdf"], r["reason"]) for r in rejects(tmp_path)} >= {("b_mixed.pdf", "pdf_timeout")}
    assert manifest["pages"]["kept"] == 2


def test_lock_refuses_a_second_live_build(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / LOCK).write_text(json.dumps({"host": os.uname().nodename, "pid": os.getppid()}))
    with pytest.raises(RuntimeError, match="being written"):
        build([corpus], tmp_path, CFG, progress=False)


def test_max_pages_per_pdf_and_task_subset(corpus: Path, tmp_path: Path) -> None:
    cfg = OcrConfig(dpi=72, max_pages_per_pdf=1, tasks=("grounding",), dedup=False)
    manifest = build([corpus / "a_columns.pdf"], tmp_path, cfg, progress=False)
    assert manifest["pages"]["kept"] == 1 and set(manifest["records_per_task"]) == {"text_grounding"}
    doc = pymupdf.open(corpus / "a_columns.pdf")
    assert doc.page_count == 3


SEMICOLON_LINES = ["Options: --dpi 144; --workers 8; --quiet", "See [1]; [2]; and [3] for details",
                   "a; b", "Plain line without the separator", "x <p>y</p>; z"]


def test_spotting_answers_parse_back_to_the_page_lines(tmp_path: Path) -> None:
    from sphinx_x.data.ocr.answers import clean_text, parse_labelled

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    for k, text in enumerate(SEMICOLON_LINES):
        page.insert_text((72, 100 + 40 * k), text, fontsize=11)
    doc.save(tmp_path / "semicolons.pdf")
    result = _process_pdf(str(tmp_path / "semicolons.pdf"), "semicolons.pdf", OcrConfig(dpi=72, tasks=("spotting",)))
    (record,) = result.pages[0].doc["records"]
    entries = parse_labelled(record["messages"][1]["content"])
    assert [label for label, _ in entries] == [clean_text(t) for t in SEMICOLON_LINES]
    lines = result.pages[0].doc["text"]["lines"]
    for (_, where), line in zip(entries, lines, strict=True):
        assert record["regions"][int(where[len("<region:"):-1])]["box"] == pytest.approx(line["box"], abs=0.01)


def test_progress_counts_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = []
    path = simple_pdf(tmp_path / "five.pdf", 5, "five")
    assert len(_process_pdf(str(path), "five.pdf", CFG, lambda: calls.append(1)).pages) == 5
    assert len(calls) == 5
    build([path], tmp_path / "out", CFG, workers=1, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert any(line.startswith("ocr: 5page") and "pdf 1/1, kept 5 pages" in line for line in bar), bar


def test_a_rerun_with_other_settings_refuses_and_keeps_the_output(corpus: Path, tmp_path: Path) -> None:
    from sphinx_x.engines.ocr.shard_writer import SETTINGS, SettingsMismatch

    first = build([corpus / "a_columns.pdf"], tmp_path, CFG, progress=False)
    stored = json.loads((tmp_path / SETTINGS).read_text())
    assert stored["dpi"] == 72 and stored["format"] == "sphinx_x.ocr_pages/2"
    with pytest.raises(SettingsMismatch, match=r"was built with other settings \(dpi=72 there, 144 now\); rerun "
                                               r"with the same settings to resume it, or write to a new --out"):
        build([corpus], tmp_path, OcrConfig(dpi=144, shard_pages=2), progress=False)
    assert not (tmp_path / LOCK).exists()
    assert json.loads((tmp_path / "manifest.json").read_text()) == first
    assert build([corpus], tmp_path, CFG, progress=False)["pdfs"]["seen"] == 6  # same settings resume


def test_workers_exit_with_a_killed_parent(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    for i in range(4):
        simple_pdf(pdfs / f"doc{i}.pdf", 40, f"doc{i}")  # seconds of work per PDF
    cmd = [sys.executable, "-m", "sphinx_x.build_ocr", "--input", str(pdfs), "--out", str(tmp_path / "out"),
           "--dpi", "200", "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 60
    while time.time() < deadline and len(parent.children()) < 2 and proc.poll() is None:
        time.sleep(0.01)
    workers = parent.children()
    assert len(workers) == 2, "the build ended before its workers could be seen"
    time.sleep(0.3)  # both busy with a PDF
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 1.5  # orphans would finish their PDF first
    while time.time() < deadline and not all(_ended(w, psutil) for w in workers):
        time.sleep(0.05)
    assert all(_ended(w, psutil) for w in workers)
    assert b"BrokenPipeError" not in proc.stderr.read()


def _ended(process, psutil) -> bool:
    """Gone, or a zombie (dead, waiting for whoever inherited it to reap it)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
