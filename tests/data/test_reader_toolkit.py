"""The helpers every reader shares: box clipping, transforms and checks, image sizes, the dialogue builder, prompt pools."""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_x.data.boxes import clip_box, transform_box
from sphinx_x.data.image_dialogue import ImageDialogue, repick_prompts
from sphinx_x.data.prompts import (
    DATASET_POOLS,
    DEFAULT_POOLS,
    MMINSTRUCT_POOLS,
    OCR_POOLS,
    PAPER_POOLS,
    SOM_POOLS,
    PromptPool,
)
from sphinx_x.data.records import RecordError
from sphinx_x.data.sources.checked_boxes import box_from_xywh, checked_box
from sphinx_x.data.sources.image_size import image_size
from tests.testkit.files import write_image


def test_clip_box_clamps_and_optionally_rounds() -> None:
    assert clip_box((-5, 2.345, 120, 60), 100, 50) == (0.0, 2.345, 100, 50)
    assert clip_box((-5, 2.345, 120, 60), 100, 50, decimals=2) == (0.0, 2.35, 100, 50)
    assert clip_box((120, 10, 130, 20), 100, 50) == (100, 10, 100, 20)  # empty boxes are the caller's call


def test_transform_box_rotation() -> None:
    assert transform_box((10, 20, 30, 40), (0, 1, -1, 0, 600, 0)) == (560, 10, 580, 30)


def reason(call) -> str:
    with pytest.raises(RecordError) as info:
        call()
    return info.value.reason


def test_checked_box_rejects_with_countable_reasons() -> None:
    assert checked_box(["1", "2.004", "30", "40"], (20, 50), "r", decimals=2) == (1.0, 2.0, 20, 40.0)
    assert checked_box((-1, 0, 101, 50), (100, 50), "r", tolerance=2) == (0.0, 0.0, 100, 50.0)
    assert reason(lambda: checked_box((0, 0, 110, 50), (100, 50), "r", tolerance=2)) == "box_outside_image"
    assert reason(lambda: checked_box((120, 0, 130, 50), (100, 50), "r")) == "degenerate_box"
    assert reason(lambda: checked_box((0, 0, "x", 50), (100, 50), "r")) == "bad_box"
    assert reason(lambda: checked_box((0, 0, float("nan"), 50), (100, 50), "r")) == "bad_box"
    assert box_from_xywh([10, 20, 30.004, 40], (100, 100), "r") == (10.0, 20.0, 40.0, 60.0)
    assert reason(lambda: box_from_xywh([10, 20, 30], (100, 100), "r")) == "bad_box"


def test_image_size_declared_or_from_the_file_header(tmp_path: Path) -> None:
    path = str(write_image(tmp_path / "a.png", (40, 20)))
    assert image_size("r", declared={"width": 640, "height": 480}) == (640, 480)
    assert image_size("r", declared={"width": "640", "height": 480.0}) == (640.0, 480.0)
    assert image_size("r", file=path, declared={"width": 640, "height": 480}) == (640, 480)
    assert image_size("r", file=path, declared={"file_name": "a.png"}) == (40, 20)
    assert image_size("r", file=path) == (40, 20)
    assert reason(lambda: image_size("r", declared={"file_name": "a.png"})) == "missing_field"
    assert reason(lambda: image_size("r", declared={"width": 0, "height": 480})) == "bad_image_size"
    assert reason(lambda: image_size("r", file=str(tmp_path / "nope.png"))) == "missing_image"
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    assert reason(lambda: image_size("r", file=str(tmp_path / "bad.png"))) == "unreadable_image"


def test_image_dialogue_regions_and_drawn_prompts() -> None:
    shared = ImageDialogue("id")
    shared.add("Where?", f"{shared.box((1, 2, 3, 4.004))}, {shared.box([1.0, 2.0, 3.0, 4.0])} {shared.point((5, 6))}")
    record = shared.record("src", "rec", "a.jpg")
    assert record == {"id": "id", "source": "src", "task": "rec", "images": ["a.jpg"],
                      "messages": [{"role": "user", "content": "<image>\nWhere?"},
                                   {"role": "assistant", "content": "<region:0>, <region:0> <region:1>"}],
                      "regions": [{"image": 0, "box": [1.0, 2.0, 3.0, 4.0]}, {"image": 0, "point": [5.0, 6.0]}]}

    prompts = PromptPool(seed=1)
    positional = ImageDialogue("page", prompts, reuse_regions=False)
    tag = positional.box((1, 2, 3, 4))
    assert positional.box((1, 2, 3, 4)) == "<region:1>"
    positional.ask("ocr_region", "text", box=tag)
    positional.ask("ocr_page", "all text")
    record = positional.record("pdf_ocr", "ocr_region_reading", "p.png", {"page": 3})
    assert record["meta"] == {"page": 3, "prompts": [{"pool": "ocr_region", "fields": {"box": "<region:0>"}},
                                                     {"pool": "ocr_page", "fields": {}}]}
    assert record["messages"][0]["content"] == "<image>\n" + prompts.pick("ocr_region", "page:0", box="<region:0>")
    fixed = repick_prompts(record, PromptPool(fixed=True))
    assert [m["content"] for m in fixed["messages"] if m["role"] == "user"] == [
        "<image>\n" + OCR_POOLS["ocr_region"][0].format(box="<region:0>"), OCR_POOLS["ocr_page"][0]]
    assert repick_prompts(record, prompts) == record
    with pytest.raises(ValueError, match="no PromptPool"):
        ImageDialogue("x").ask("ocr_page", "a")


def test_one_prompt_registry_with_overrides_on_top() -> None:
    assert DEFAULT_POOLS == {**PAPER_POOLS, **DATASET_POOLS, **OCR_POOLS, **SOM_POOLS, **MMINSTRUCT_POOLS}
    assert len(DEFAULT_POOLS) == (len(PAPER_POOLS) + len(DATASET_POOLS) + len(OCR_POOLS) + len(SOM_POOLS)
                                  + len(MMINSTRUCT_POOLS))
    pool = PromptPool({"kie": ["Value of {field}?"]}, fixed=True)
    assert pool.pick("kie", field="date") == "Value of date?"
    assert pool.pick("table_fact", statement="s") == DATASET_POOLS["table_fact"][0].format(statement="s")
    assert pool.pick("text_spotting") == OCR_POOLS["text_spotting"][0]


def test_prompt_pools_merge_and_keep_verbatim_first() -> None:
    assert OCR_POOLS["text_spotting"][0] == "Detect all texts and provide their bounding box coordinates."
    merged = PromptPool({"text_spotting": ["custom"]}, seed=3, fixed=True)
    assert merged.pick("text_spotting") == "custom" and merged.pick("ocr_page") == OCR_POOLS["ocr_page"][0]
    assert merged.seed == 3 and merged.fixed
