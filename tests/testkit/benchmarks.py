"""A tiny demo benchmark folder (four VQA questions, one REC box) for the scorer tests."""

from __future__ import annotations

from pathlib import Path

from tests.testkit.files import write_jsonl


def write_demo_benchmark(folder: Path) -> Path:
    """``vqa_heldout.jsonl`` (answers 3, 2, red, blue) and ``rec_heldout.jsonl`` (one 256x128 image) in ``folder``."""
    rows = [("count", "How many shapes are there?", "3"), ("count", "How many shapes are there?", "2"),
            ("colour", "What colour is the circle?", "red"), ("colour", "What colour is the square?", "blue")]
    write_jsonl(folder / "vqa_heldout.jsonl", [
        {"question_id": i, "image": f"images/heldout_{i:05d}.png", "question": q, "answer": a, "question_type": t}
        for i, (t, q, a) in enumerate(rows)
    ])
    write_jsonl(folder / "rec_heldout.jsonl", [
        {"question_id": 0, "image": "images/heldout_00000.png", "expression": "the red circle",
         "box": [10, 20, 50, 60], "width": 256, "height": 128},
    ])
    return folder
