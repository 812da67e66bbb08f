"""The data inspector shows a Set-of-Mark record's raw image next to the marked view, redrawn from its meta."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sphinx_x.engines.som.config import SomConfig
from sphinx_x.engines.som.draw import draw_marks
from sphinx_x.engines.som.inputs import coco_items
from sphinx_x.engines.som.pipeline import build
from sphinx_x.inspect_data import inspect_records, marked_view
from tests.testkit.som import write_coco
from tests.testkit.sources import load_spec, read


def test_inspector_writes_raw_and_marked_views(tmp_path, engine):
    coco, images = write_coco(tmp_path / "coco", n=1)
    build(coco_items(coco, images, "natural", "coco"), tmp_path / "som" / "natural", SomConfig(tasks=("som_marks",)),
          progress=False)
    (record,), _ = read(load_spec("som_natural", tmp_path))
    raw = Image.open(record["images"][0]).convert("RGB")
    pair = np.array(marked_view(record, raw))
    item = next(iter(coco_items(coco, images, "natural", "coco")))
    drawn = np.array(draw_marks(Image.open(item.image), item.marks, SomConfig().style, record["meta"]["som"]["key"]).image)
    assert pair.shape == (240, 2 * 320 + 8, 3)
    assert np.array_equal(pair[:, :320], np.array(raw)) and np.array_equal(pair[:, 328:], drawn)
    assert marked_view({"id": "x", "meta": {}}, raw) is None

    texts = inspect_records([record], engine.processor, tmp_path / "png")
    assert "[[ <p>" in texts[0] and sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "coco_1-94f4e199_som_marks_0_0.png", "coco_1-94f4e199_som_marks_0_0_marks.png"]
