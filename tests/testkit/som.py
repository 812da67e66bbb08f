"""A small COCO-format set for the Set-of-Mark engine: images with drawn shapes and annotations that
cover every mark kind (polygon mask, RLE mask, box only, keypoints, a crowd region, a tiny region)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

SIZE = (320, 240)
CATEGORIES = [{"id": 1, "name": "ball"}, {"id": 2, "name": "box"}, {"id": 3, "name": "kite"},
              {"id": 4, "name": "person", "keypoints": ["head", "left_hand", "right_hand"]}]


def circle(cx: float, cy: float, r: float, n: int = 24) -> list[float]:
    return [v for k in range(n) for v in (cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n))]


def scene(index: int) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Image ``index`` and its annotations (without ids): shapes move with ``index``."""
    width, height = SIZE
    image = Image.new("RGB", SIZE, (110 + 10 * index % 60, 150, 110))
    pen = ImageDraw.Draw(image)
    dx = 12 * (index % 4)
    anns: list[dict[str, Any]] = []
    ball = circle(70 + dx, 80, 45)
    pen.polygon(list(zip(ball[0::2], ball[1::2], strict=True)), fill=(210, 70, 50))
    anns.append({"category_id": 1, "segmentation": [ball], "bbox": [25 + dx, 35, 90, 90], "iscrowd": 0})
    pen.rectangle((170, 30 + dx, 290, 120 + dx), fill=(60, 80, 200))
    mask = Image.new("L", SIZE, 0)
    ImageDraw.Draw(mask).rectangle((170, 30 + dx, 290, 120 + dx), fill=1)
    import numpy as np

    rle = mask_utils.encode(np.asfortranarray(np.array(mask, dtype=np.uint8)))
    anns.append({"category_id": 2, "segmentation": {"size": [height, width], "counts": rle["counts"].decode()},
                 "bbox": [170, 30 + dx, 120, 90], "iscrowd": 0})
    kite = [40.0, 170.0, 140.0, 150.0, 120.0, 230.0, 30.0, 230.0]
    pen.polygon(list(zip(kite[0::2], kite[1::2], strict=True)), fill=(220, 200, 50))
    anns.append({"category_id": 3, "segmentation": [kite], "bbox": [30, 150, 110, 80], "iscrowd": 0})
    pen.rectangle((200, 150, 250, 235), outline=(20, 20, 20), width=2)
    anns.append({"category_id": 4, "bbox": [200, 150, 50, 85], "iscrowd": 0,
                 "keypoints": [225, 160, 2, 205, 190, 2, 0, 0, 0], "num_keypoints": 2})
    anns.append({"category_id": 2, "bbox": [300, 5, 3, 3], "iscrowd": 0})  # tiny: not marked
    if index % 2:
        anns.append({"category_id": 1, "bbox": [260, 130, 50, 40], "iscrowd": 1,
                     "segmentation": {"size": [height, width], "counts": [width * height]}})
    return image, anns


def write_coco(root: Path, n: int = 3, extra: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """``root/images/*.png`` and ``root/instances.json`` with ``n`` scenes; returns (json, image root)."""
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(n):
        image, anns = scene(index)
        name = f"{index:06d}.png"
        image.save(images_dir / name)
        images.append({"id": index + 1, "file_name": name, "width": SIZE[0], "height": SIZE[1]})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, **ann})
    data = {"images": images, "annotations": annotations + list(extra or []), "categories": CATEGORIES}
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return path, images_dir
