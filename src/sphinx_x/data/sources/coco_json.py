"""COCO-format annotation files (instances, keypoints, captions; LVIS, Objects365, V3Det, OpenImages
after their COCO conversion): images, categories and annotations grouped by image, in file order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.records import RecordError


class CocoFile:
    """One COCO-format JSON file, indexed by image id."""

    def __init__(self, data: dict[str, Any]):
        self.images: dict[Any, dict[str, Any]] = {image["id"]: image for image in data.get("images", [])}
        self.categories: dict[Any, dict[str, Any]] = {c["id"]: c for c in data.get("categories", [])}
        self.annotations: list[dict[str, Any]] = list(data.get("annotations", []))
        self.by_image: dict[Any, list[dict[str, Any]]] = {}
        for annotation in self.annotations:
            self.by_image.setdefault(annotation.get("image_id"), []).append(annotation)

    @classmethod
    def load(cls, path: str | Path) -> CocoFile:
        with Path(path).open() as f:
            return cls(json.load(f))

    def annotated_images(self, source: str) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]] | RecordError]:
        """(image, its annotations) for every image with annotations, in the file's image order;
        annotations of an image id missing from ``images`` come out as one RecordError."""
        for image_id, image in self.images.items():
            if image_id in self.by_image:
                yield image, self.by_image[image_id]
        for image_id in self.by_image:
            if image_id not in self.images:
                yield RecordError("unknown_image", f"annotations refer to image {image_id!r}",
                                  f"{source}/{image_id}")

    def category_name(self, category_id: Any, rid: str) -> str:
        """The category's name in words (LVIS ``baseball_bat`` -> ``baseball bat``)."""
        category = self.categories.get(category_id)
        if category is None or not category.get("name"):
            raise RecordError("unknown_category", repr(category_id), rid)
        return str(category["name"]).replace("_", " ").strip()


def image_file(image: dict[str, Any], rid: str) -> str:
    """Image path relative to the image root: ``file_name``, else the last two parts of ``coco_url``
    (LVIS v1 gives only ``coco_url``: ``.../train2017/000000391895.jpg`` -> ``train2017/000000391895.jpg``)."""
    if image.get("file_name"):
        return str(image["file_name"])
    if image.get("coco_url"):
        return "/".join(str(image["coco_url"]).rstrip("/").split("/")[-2:])
    raise RecordError("missing_field", "file_name or coco_url", rid)
