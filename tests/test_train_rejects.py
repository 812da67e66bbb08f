"""One reject count: N bad records injected into a training source (some rejected when read, some only
when their sample is built in a DataLoader worker) are N in the rejects file, the logged metric, the log
line, the checkpoint and ``train()``'s return value. Only draws that were trained on count, not the
ones workers prefetched."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import torch
from omegaconf import open_dict
from PIL import Image

from sphinx_x.data.mixture import MixtureSampler
from sphinx_x.train import train

GOOD, MICRO_BATCH, STEPS = 12, 4, 2


def _turns(question: str, answer: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]


def write_source(root: Path) -> tuple[Path, list[str], list[str]]:
    """A LLaVA JSONL file: good records, records that fail when read (bad JSON, wrong types, a null
    answer) and records that fail in the worker (missing, corrupt and over-limit images).
    Returns (file, accepted record ids in file order, ids of those that fail in the worker)."""
    Image.new("RGB", (64, 48), (200, 30, 30)).save(root / "ok.png")
    Image.new("RGB", (400, 400), (9, 9, 9)).save(root / "huge.png")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    lines, accepted, in_worker = [], [], []
    for k in range(GOOD):
        lines.append(json.dumps({"id": f"g{k}", "image": "ok.png", "conversations": _turns("<image>\nColour?", "Red.")}))
        accepted.append(f"g{k}")
    for name in ("missing.png", "corrupt.png", "huge.png", "missing2.png"):
        key = f"w_{name.removesuffix('.png')}"
        lines.append(json.dumps({"id": key, "image": name, "conversations": _turns("<image>\nColour?", "Red.")}))
        accepted.append(key)
        in_worker.append(key)
    lines += ["{not json", json.dumps({"id": "s", "conversations": "hello"}),
              json.dumps({"id": "n", "conversations": _turns("What?", None)})]  # null answer: never the text "None"
    path = root / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, accepted, in_worker


def test_every_place_reports_the_same_reject_count(demo_config, tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    path, accepted, in_worker = write_source(data)
    out = tmp_path / "run"
    cfg = demo_config(f"trainer.max_steps={STEPS}", "data.num_workers=2", f"data.micro_batch_size={MICRO_BATCH}",
                      f"global_batch_size={MICRO_BATCH}", "data.num_samples=null", "data.val_sources=[]",
                      "data.weighting=size", "data.max_image_pixels=100000",
                      "callbacks.checkpoint.every_n_train_steps=1", output_dir=out)
    with open_dict(cfg):
        cfg.data.sources = {"hostile": {"reader": "llava", "path": str(path), "image_root": str(data),
                                        "group": "vl", "task": "demo_instruction", "options": {"box_format": "none"}}}
    caplog.set_level(logging.INFO, logger="sphinx_x.model.module")

    result = train(cfg, str(out))

    # expected: 3 rejected when read + the worker failures among the draws trained on (not those prefetched)
    order = MixtureSampler([len(accepted)], [1.0], len(accepted), seed=cfg.data.seed).global_sequence(0)[1]
    trained = [accepted[i] for i in order[: STEPS * MICRO_BATCH]]
    expected = 3 + sum(key in in_worker for key in trained)
    assert 3 < expected < 3 + len(in_worker)  # some worker failures were trained on, some only prefetched

    rows = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    with (out / "csv" / "version_0" / "metrics.csv").open() as f:
        logged = [float(row["train/rejected"]) for row in csv.DictReader(f) if row.get("train/rejected")]
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected"))
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)

    assert len(rows) == expected
    assert logged[-1] == expected
    assert line.startswith(f"rejected {expected} records")
    assert sum(checkpoint["SphinxDataModule"]["rejected"].values()) == expected
    assert sum(result["rejected"].values()) == result["rejected_total"] == expected
    assert result["metrics"]["train/rejected"] == expected
    # every row names its source, file and line (or the record's key), a reason and where it was counted
    assert {r["stage"] for r in rows} == {"load", "train"}
    assert sorted(r["id"] for r in rows if r["stage"] == "load") == [
        "hostile:hostile.jsonl:17", "hostile:hostile.jsonl:18", "hostile:hostile.jsonl:19"]
    assert all(r["id"].startswith("hostile:hostile.jsonl:id=w_") for r in rows if r["stage"] == "train")
    assert {r["reason"] for r in rows} <= {"malformed_json", "bad_type", "missing_field", "missing_image",
                                           "unreadable_image", "image_too_large"}


def test_a_micro_batch_whose_draws_were_all_rejected_still_steps(demo_config, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path, accepted, in_worker = write_source(data)
    cfg = demo_config("trainer.max_steps=4", "data.micro_batch_size=1", "global_batch_size=2", "data.num_samples=null",
                      "data.val_sources=[]", "data.weighting=size", "data.max_image_pixels=100000",
                      output_dir=tmp_path / "run")
    with open_dict(cfg):
        cfg.data.sources = {"hostile": {"reader": "llava", "path": str(path), "image_root": str(data),
                                        "group": "vl", "task": "demo_instruction", "options": {"box_format": "none"}}}
    order = MixtureSampler([len(accepted)], [1.0], len(accepted), seed=cfg.data.seed).global_sequence(0)[1]
    trained = [accepted[i] for i in order[:8]]
    assert any(key in in_worker for key in trained)  # some micro-batches hold nothing but a rejected draw
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 4
    assert result["rejected_total"] == 3 + sum(key in in_worker for key in trained)
