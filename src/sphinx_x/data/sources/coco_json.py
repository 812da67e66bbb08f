"""COCO-format annotation files (instances, keypoints, captions; LVIS, Objects365, V3Det, OpenImages
after their COCO conversion): images, categories and annotations grouped by image, in file order.

Entries are type-checked as the file is indexed: an image, category or annotation that is not an object
or has an unusable id is a reject (yielded by :meth:`CocoFile.annotated_images`), never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.records import RecordError, json_kind, short_repr
from sphinx_x.data.sources.base import json_list, load_json
from sphinx_x.data.sources.values import is_key


class CocoFile:
    """One COCO-format JSON file, indexed by image id."""

    def __init__(self, data: dict[str, Any], path: str | Path = "annotations.json"):
        self.name = Path(path).name
        self.errors: list[RecordError] = []
        self.images: dict[Any, dict[str, Any]] = {}
        for n, image in enumerate(self._entries(data, "images", path)):
            if self._usable(image, "id", f"images[{n}]"):
                self.images.setdefault(image["id"], image)
        self.categories: dict[Any, dict[str, Any]] = {}
        for n, category in enumerate(self._entries(data, "categories", path)):
            if self._usable(category, "id", f"categories[{n}]"):
                self.categories.setdefault(category["id"], category)
        self.annotations: list[dict[str, Any]] = []
        self.by_image: dict[Any, list[dict[str, Any]]] = {}
        for n, annotation in enumerate(self._entries(data, "annotations", path)):
            if self._usable(annotation, "image_id", f"annotations[{n}]"):
                self.annotations.append(annotation)
                self.by_image.setdefault(annotation["image_id"], []).append(annotation)

    @classmethod
    def load(cls, path: str | Path) -> CocoFile:
        """The file, parsed; a file that is not a COCO object is a RecordError naming it."""
        return cls(json_list(load_json(path), None, path, mapping=True), path)

    def _entries(self, data: dict[str, Any], key: str, path: str | Path) -> list[Any]:
        return json_list(data, key, path) if key in data else []

    def _usable(self, entry: Any, key: str, where: str) -> bool:
        """An object whose ``key`` is an integer or string id; otherwise one reject."""
        if isinstance(entry, dict) and is_key(entry.get(key)):
            return True
        value = entry.get(key) if isinstance(entry, dict) else entry
        self.errors.append(RecordError("malformed_item", f"{where}: {key} must be an integer or string id, got "
                                                         f"{json_kind(value)} {short_repr(value)}",
                                       where=f"{self.name}:{where}"))
        return False

    def annotated_images(self, source: str) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]] | RecordError]:
        """(image, its annotations) for every image with annotations, in the file's image order;
        malformed entries, and annotations of an image id missing from ``images``, come out as RecordErrors."""
        yield from self.errors
        for image_id, image in self.images.items():
            if image_id in self.by_image:
                yield image, self.by_image[image_id]
        for image_id in self.by_image:
            if image_id not in self.images:
                yield RecordError("unknown_image", f"annotations refer to image {image_id!r}",
                                  f"{source}/{image_id}")

    def category_name(self, category_id: Any, rid: str) -> str:
        """The category's name in words (LVIS ``baseball_bat`` -> ``baseball bat``)."""
        category = self.categories.get(category_id) if isinstance(category_id, (int, str)) else None
        name = category.get("name") if category is not None else None
        if not isinstance(name, str) or not name.replace("_", " ").strip():
            raise RecordError("unknown_category", short_repr(category_id), rid)
        return name.replace("_", " ").strip()


def image_file(image: dict[str, Any], rid: str) -> str:
    """Image path relative to the image root: ``file_name``, else the last two parts of ``coco_url``
    (LVIS v1 gives only ``coco_url``: ``.../train2017/000000391895.jpg`` -> ``train2017/000000391895.jpg``)."""
    name, url = image.get("file_name"), image.get("coco_url")
    if isinstance(name, str) and name.strip():
        return name
    if isinstance(url, str) and url.strip("/ "):
        return "/".join(url.rstrip("/").split("/")[-2:])
    if name is None and url is None:
        raise RecordError("missing_field", "file_name or coco_url", rid)
    raise RecordError("bad_image_path", f"file_name / coco_url: {short_repr(name if name is not None else url)}", rid)
