"""COCO captions, and the LLaVA-layout caption / instruction sets read by the shared `llava` reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testkit.files import write_json
from tests.testkit.sources import load_spec, read, turns

LLAVA_LAYOUT = ["sharegpt4v", "laion_gpt4v", "llava_instruct", "lvis_instruct4v", "llavar"]


def test_coco_captions_one_record_per_caption(tmp_path):
    write_json(tmp_path / "coco" / "annotations" / "captions_train2017.json", {
        "info": {}, "licenses": [],
        "images": [{"id": 9, "file_name": "000000000009.jpg", "width": 640, "height": 480}],
        "annotations": [{"image_id": 9, "id": 1, "caption": "A cat sitting on a mat. "},
                        {"image_id": 9, "id": 2, "caption": "  "},
                        {"image_id": 9, "id": 3, "caption": "A grey cat indoors."}]})

    records, errors = read(load_spec("coco_caption", tmp_path))

    image = str(tmp_path / "coco" / "train2017" / "000000000009.jpg")
    assert records == [
        {"id": "coco_caption/9/1", "source": "coco_caption", "task": "caption", "images": [image],
         "messages": turns("<image>\nDescribe the image concisely.", "A cat sitting on a mat.")},
        {"id": "coco_caption/9/3", "source": "coco_caption", "task": "caption", "images": [image],
         "messages": turns("<image>\nDescribe the image concisely.", "A grey cat indoors.")},
    ]
    assert errors == [("empty_answer", "coco_caption/9/2")]


@pytest.mark.parametrize("name", LLAVA_LAYOUT)
def test_llava_layout_configs_read_their_default_file(tmp_path, name):
    spec = load_spec(name, tmp_path)
    write_json(Path(spec.path), [{"id": "000000000009", "image": "coco/train2017/000000000009.jpg", "conversations": [
        {"from": "human", "value": "What do you see happening in this image?\n<image>"},
        {"from": "gpt", "value": "A grey cat sits on a mat."}]}])

    records, errors = read(spec)

    assert errors == []
    assert records == [{"id": f"{name}/000000000009", "source": name, "task": spec.task,
                        "images": [f"{spec.image_root}/coco/train2017/000000000009.jpg"],
                        "messages": turns("What do you see happening in this image?\n<image>", "A grey cat sits on a mat.")}]
