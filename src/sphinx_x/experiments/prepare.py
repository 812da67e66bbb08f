"""Data a study needs before its runs, derived from the demo world (``scales.<scale>.prepare: <name>``).

Each preparer writes into the study's data folder (``study.data_dir`` in the trial config, passed by
``sphinx_x.experiments.run``), which the scale's overrides reference as ``${study.data_dir}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from sphinx_x.demo.world import VQA_SUFFIX, build_demo_world

# experiment=demo's world: python -m sphinx_x.demo.world --train 1500 --heldout 200 --seed 0
DEMO_WORLD = {"n_train": 1500, "n_heldout": 200, "seed": 0}
IMAGE_MARKER = "<image>"


def demo_vqa_as_gqa(demo_dir: Path, out: Path) -> dict[str, int]:
    """The demo's training VQA in GQA's layout, so the reader adds the prompt from the task's pool.

    Writes ``llava_no_vqa.json`` (the LLaVA records without the VQA ones), ``gqa_train.json``
    (``{qid: {imageId, question, answer}}``, the questions without the verbatim answer-format suffix)
    and ``images/<stem>.jpg`` links to the scenes (GQA's reader names images ``<imageId>.jpg``).
    """
    build_demo_world(demo_dir, **DEMO_WORLD)
    records = json.loads((demo_dir / "llava_train.json").read_text(encoding="utf-8"))
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    rest, questions = [], {}
    for record in records:
        if not record["id"].endswith("_vqa"):
            rest.append({**record, "image": str((demo_dir / record["image"]).resolve())})
            continue
        stem = Path(record["image"]).stem
        link = images / f"{stem}.jpg"
        if not link.exists():
            link.symlink_to((demo_dir / record["image"]).resolve())
        turns = record["conversations"]
        for k, (human, gpt) in enumerate(zip(turns[::2], turns[1::2], strict=True)):
            question = human["value"].replace(IMAGE_MARKER, "").replace(VQA_SUFFIX, "").strip()
            questions[f"{stem}_{k}"] = {"imageId": stem, "question": re.sub(r"\s+", " ", question),
                                        "answer": gpt["value"]}
    (out / "llava_no_vqa.json").write_text(json.dumps(rest), encoding="utf-8")
    (out / "gqa_train.json").write_text(json.dumps(questions), encoding="utf-8")
    return {"llava_records": len(rest), "vqa_questions": len(questions)}


def demo_task_subsets(demo_dir: Path, out: Path) -> dict[str, int]:
    """The demo's LLaVA records split by task group: ``llava_vl.json`` (captions and VQA) and
    ``llava_vision.json`` (referring boxes and region captions), for the ``demo_vl`` / ``demo_vision``
    mixtures of the data_subsets study (``demo_language`` trains on the text dialogues only)."""
    build_demo_world(demo_dir, **DEMO_WORLD)
    records = json.loads((demo_dir / "llava_train.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[dict]] = {"vl": [], "vision": []}
    for record in records:
        group = "vision" if record["id"].endswith("_grounding") else "vl"
        groups[group].append({**record, "image": str((demo_dir / record["image"]).resolve())})
    for group, subset in groups.items():
        (out / f"llava_{group}.json").write_text(json.dumps(subset), encoding="utf-8")
    return {f"llava_{group}": len(subset) for group, subset in groups.items()}


PREPARERS: dict[str, Callable[[Path, Path], dict[str, int]]] = {"demo_vqa_as_gqa": demo_vqa_as_gqa,
                                                                "demo_task_subsets": demo_task_subsets}
