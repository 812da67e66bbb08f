"""COCO-format detection (COCO, LVIS, Objects365, V3Det, OpenImages) and COCO keypoints."""

from __future__ import annotations

import pytest

from sphinx_x.data.geometry import ImageFrame
from tests.testkit.files import write_image, write_json
from tests.testkit.sources import load_spec, read, render, turns

CATEGORIES = [{"id": 1, "name": "cat", "supercategory": "animal"},
              {"id": 2, "name": "dog", "supercategory": "animal"},
              {"id": 3, "name": "baseball_bat", "supercategory": "sports"}]


def coco_instances(tmp_path):
    """instances_train2017.json: a wide 200x100 image, a crowd-only image, a degenerate box, an image
    without objects and annotations of an unknown image."""
    write_image(tmp_path / "coco" / "train2017" / "000000000001.jpg", (200, 100))
    images = [{"id": 1, "file_name": "000000000001.jpg", "width": 200, "height": 100},
              {"id": 2, "file_name": "000000000002.jpg", "width": 100, "height": 100},
              {"id": 3, "file_name": "000000000003.jpg", "width": 50, "height": 50},
              {"id": 4, "file_name": "000000000004.jpg", "width": 50, "height": 50}]
    annotations = [
        {"id": 11, "image_id": 1, "category_id": 1, "bbox": [100, 50, 60, 30], "area": 1800, "iscrowd": 0},
        {"id": 12, "image_id": 1, "category_id": 2, "bbox": [10, 60, 30, 30], "area": 900, "iscrowd": 0},
        {"id": 13, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 50], "area": 5000, "iscrowd": 0},
        {"id": 14, "image_id": 1, "category_id": 3, "bbox": [180, 80, 40, 30], "area": 1200, "iscrowd": 0},
        {"id": 21, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 1},
        {"id": 31, "image_id": 3, "category_id": 2, "bbox": [60, 10, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 91, "image_id": 99, "category_id": 2, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0},
    ]
    write_json(tmp_path / "coco" / "annotations" / "instances_train2017.json",
               {"info": {}, "licenses": [], "images": images, "annotations": annotations, "categories": CATEGORIES})


def test_coco_detection_groups_boxes_by_category_in_reading_order(tmp_path):
    coco_instances(tmp_path)

    records, errors = read(load_spec("coco_detection", tmp_path))

    image = str(tmp_path / "coco" / "train2017" / "000000000001.jpg")
    regions = [{"image": 0, "box": [0.0, 0.0, 100.0, 50.0]}, {"image": 0, "box": [100.0, 50.0, 160.0, 80.0]},
               {"image": 0, "box": [10.0, 60.0, 40.0, 90.0]}, {"image": 0, "box": [180.0, 80.0, 200.0, 100.0]}]
    assert records == [
        {"id": "coco_detection/1/detection/0", "source": "coco_detection", "task": "detection", "images": [image],
         "messages": turns("<image>\nDetect all objects shown in the image.",
                           "<p>cat</p> <region:0>, <region:1>; <p>dog</p> <region:2>; <p>baseball bat</p> <region:3>"),
         "regions": regions},
        {"id": "coco_detection/1/detection_category/0", "source": "coco_detection", "task": "detection_category",
         "images": [image],
         "messages": turns("<image>\ndetect all cat shown in the image.", "<p>cat</p> <region:0>, <region:1>",
                           "detect all dog shown in the image.", "<p>dog</p> <region:2>",
                           "detect all baseball bat shown in the image.", "<p>baseball bat</p> <region:3>"),
         "regions": regions},
    ]
    assert errors == [("degenerate_box", "coco_detection/3"), ("unknown_image", "coco_detection/99")]


def test_detection_boxes_render_in_the_top_left_padded_frame(tmp_path):
    coco_instances(tmp_path)
    record = read(load_spec("coco_detection", tmp_path))[0][0]
    frame = ImageFrame.fit(200, 100, side=448, grid=2)

    assert frame.box_to_text(record["regions"][0]["box"]) == "[0.00, 0.00, 0.50, 0.25]"
    assert render(record["messages"][1]["content"], record, frame) == (
        "<p>cat</p> [0.00, 0.00, 0.50, 0.25], [0.50, 0.25, 0.80, 0.40]; <p>dog</p> [0.05, 0.30, 0.20, 0.45]; "
        "<p>baseball bat</p> [0.90, 0.40, 1.00, 0.50]")


def test_detection_category_turns_split_by_max_turns_with_their_own_regions(tmp_path):
    coco_instances(tmp_path)

    records, _ = read(load_spec("coco_detection", tmp_path, tasks=["detection_category"], max_turns=2))

    assert [r["id"] for r in records] == ["coco_detection/1/detection_category/0", "coco_detection/1/detection_category/1"]
    assert records[1]["messages"] == turns("<image>\ndetect all baseball bat shown in the image.",
                                           "<p>baseball bat</p> <region:0>")
    assert records[1]["regions"] == [{"image": 0, "box": [180.0, 80.0, 200.0, 100.0]}]


def test_lvis_images_come_from_coco_url_and_categories_lose_underscores(tmp_path):
    write_json(tmp_path / "lvis" / "lvis_v1_train.json", {
        "images": [{"id": 5, "coco_url": "http://images.cocodataset.org/train2017/000000000005.jpg", "width": 100,
                    "height": 200, "neg_category_ids": [], "not_exhaustive_category_ids": []}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 7, "bbox": [10, 20, 30, 40], "area": 1200}],
        "categories": [{"id": 7, "name": "aerosol_can", "synonyms": ["aerosol_can", "spray_can"], "frequency": "c"}],
    })

    records, errors = read(load_spec("lvis", tmp_path, tasks=["detection"]))

    assert errors == []
    assert records == [{
        "id": "lvis/5/detection/0", "source": "lvis", "task": "detection",
        "images": [str(tmp_path / "coco" / "train2017" / "000000000005.jpg")],
        "messages": turns("<image>\nDetect all objects shown in the image.", "<p>aerosol can</p> <region:0>"),
        "regions": [{"image": 0, "box": [10.0, 20.0, 40.0, 60.0]}]}]
    tall = ImageFrame.fit(100, 200, side=448, grid=2)
    assert tall.box_to_text(records[0]["regions"][0]["box"]) == "[0.05, 0.10, 0.20, 0.30]"


def test_detection_rejects_unknown_tasks_by_option_name(tmp_path):
    coco_instances(tmp_path)
    with pytest.raises(ValueError, match=r"data.sources.coco_detection.options.tasks"):
        read(load_spec("coco_detection", tmp_path, tasks=["segmentation"]))


def coco_keypoints(tmp_path):
    category = {"id": 1, "name": "person", "supercategory": "person",
                "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [1, 3]]}
    images = [{"id": 1, "file_name": "000000000001.jpg", "width": 200, "height": 100},
              {"id": 2, "file_name": "000000000002.jpg", "width": 100, "height": 100}]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 80], "iscrowd": 0, "num_keypoints": 2,
         "keypoints": [30, 20, 2, 0, 0, 0, 36, 18, 1]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 0, 40, 90], "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0, 0, 0, 0, 0, 0, 0, 0, 0]},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 200, 100], "iscrowd": 1, "num_keypoints": 0,
         "keypoints": [0] * 9},
        {"id": 4, "image_id": 1, "category_id": 1, "bbox": [150, 20, 40, 60], "iscrowd": 0, "num_keypoints": 3,
         "keypoints": [160, 30, 2, 165, 28, 2, 170, 28, 2]},
        {"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 0, "num_keypoints": 1,
         "keypoints": [5, 5, 2, 0, 0]},
    ]
    write_json(tmp_path / "coco" / "annotations" / "person_keypoints_train2017.json",
               {"images": images, "annotations": annotations, "categories": [category]})


def test_coco_pose_names_labelled_keypoints_as_point_regions(tmp_path):
    coco_keypoints(tmp_path)

    records, errors = read(load_spec("coco_pose", tmp_path))

    assert records == [{
        "id": "coco_pose/1/pose/0", "source": "coco_pose", "task": "pose",
        "images": [str(tmp_path / "coco" / "train2017" / "000000000001.jpg")],
        "messages": turns(
            "<image>\nDetect all people shown in the image.",  # SPHINX finds the people first
            "<p>person</p> <region:0>, <region:1>",
            "Detect the key points of the person in the region <region:0>.",
            "<p>nose</p> <region:2>; <p>right eye</p> <region:3>",
            "Detect the key points of the person in the region <region:1>.",
            "<p>nose</p> <region:4>; <p>left eye</p> <region:5>; <p>right eye</p> <region:6>"),
        "regions": [{"image": 0, "box": [10.0, 10.0, 60.0, 90.0]}, {"image": 0, "box": [150.0, 20.0, 190.0, 80.0]},
                    {"image": 0, "point": [30.0, 20.0]}, {"image": 0, "point": [36.0, 18.0]},
                    {"image": 0, "point": [160.0, 30.0]}, {"image": 0, "point": [165.0, 28.0]},
                    {"image": 0, "point": [170.0, 28.0]}]}]
    assert errors == [("bad_keypoints", "coco_pose/2")]
    frame = ImageFrame.fit(200, 100, side=448, grid=2)
    assert render(records[0]["messages"][3]["content"], records[0], frame) == (
        "<p>nose</p> [0.15, 0.10]; <p>right eye</p> [0.18, 0.09]")
    without, _ = read(load_spec("coco_pose", tmp_path, detect_people_first=False))
    assert without[0]["messages"][0]["content"] == "<image>\nDetect the key points of the person in the region <region:0>."


def test_coco_pose_min_visibility_2_keeps_visible_keypoints_only(tmp_path):
    coco_keypoints(tmp_path)

    records, _ = read(load_spec("coco_pose", tmp_path, min_visibility=2, max_turns=1, detect_people_first=False))

    assert [r["id"] for r in records] == ["coco_pose/1/pose/0", "coco_pose/1/pose/1"]
    assert records[0]["messages"][1]["content"] == "<p>nose</p> <region:1>"
    assert records[0]["regions"] == [{"image": 0, "box": [10.0, 10.0, 60.0, 90.0]}, {"image": 0, "point": [30.0, 20.0]}]
