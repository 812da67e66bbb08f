"""Marks drawn on a fixture image, checked by pixel: every label lies inside its region, labels never
overlap, tiny regions and marks past the cap are left out, colours contrast, drawing is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sphinx_x.engines.som.draw import MarkStyle, draw_marks, inside_distance, mark_palette, text_colour
from sphinx_x.engines.som.inputs import coco_items
from sphinx_x.engines.som.marks import Mark, polygons_to_rle, rle_box, segmentation_to_rle
from tests.testkit.som import circle, write_coco


@pytest.fixture(scope="module")
def item(tmp_path_factory):
    path, images = write_coco(tmp_path_factory.mktemp("coco"), n=2)
    return [i for i in coco_items(path, images, "natural", "coco")][1]


def crowded_marks(width: int = 320, height: int = 240) -> list[Mark]:
    """Overlapping masks whose best label spots collide, plus small boxes in a row."""
    marks = []
    for k in range(4):
        rle = polygons_to_rle([circle(110 + 12 * k, 120, 70)], width, height)
        marks.append(Mark(f"disc{k}", rle_box(rle), rle))
    marks += [Mark(f"chip{k}", (200 + 22 * k, 20, 220 + 22 * k, 44)) for k in range(5)]
    return marks


def label_pixels(drawing, number: int) -> tuple[int, int, int, int]:
    return next(p.label_box for p in drawing.placed if p.number == number)


@pytest.mark.parametrize("source", ["fixture", "crowded"])
def test_every_label_lies_inside_its_region_and_no_two_overlap(item, source):
    if source == "fixture":
        image, marks = Image.open(item.image), item.marks
    else:
        image, marks = Image.new("RGB", (320, 240), (128, 128, 128)), crowded_marks()
    drawing = draw_marks(image, marks, MarkStyle(seed=3), "k")
    assert len(drawing.placed) >= 4
    occupied = np.zeros((image.height, image.width), np.int32)
    for placed in drawing.placed:
        x1, y1, x2, y2 = placed.label_box
        region = marks[placed.index].mask(image.width, image.height)
        assert region[(y1 + y2) // 2, (x1 + x2) // 2], f"label {placed.number} centre outside its region"
        if source == "fixture":  # roomy regions: the whole label box is inside
            assert region[y1:y2, x1:x2].all()
        occupied[y1:y2, x1:x2] += 1
    assert occupied.max() == 1, "two labels overlap"


def test_the_label_is_drawn_in_the_marked_image_with_a_contrasting_colour(item):
    raw = Image.open(item.image).convert("RGB")
    drawing = draw_marks(raw, item.marks, MarkStyle(seed=0), "k")
    marked, before = np.array(drawing.image), np.array(raw)
    for placed in drawing.placed:
        x1, y1, x2, y2 = placed.label_box
        box = marked[y1 + 1:y2 - 1, x1 + 1:x2 - 1].reshape(-1, 3).astype(int)  # (pixels, rgb)
        ink, fill = np.array(text_colour(placed.colour)), np.array(placed.colour)
        assert (np.abs(box - fill).sum(1) == 0).mean() > 0.3  # the label's background is the mark's colour
        nearer_ink = np.abs(box - ink).sum(1) < np.abs(box - fill).sum(1)
        assert 0.05 < nearer_ink.mean() < 0.7  # digits drawn in the contrasting colour (anti-aliased)
        assert (box != before[y1 + 1:y2 - 1, x1 + 1:x2 - 1].reshape(-1, 3)).any()
    # mask marks are tinted inside (translucent: the raw colour still shows through) and untouched far away
    ball = next(p for p in drawing.placed if item.marks[p.index].label == "ball")
    cx, cy = 70 + 12, 80  # ball centre in scene 1, away from its label
    if not (ball.label_box[0] <= cx < ball.label_box[2] and ball.label_box[1] <= cy < ball.label_box[3]):
        assert tuple(marked[cy, cx]) != tuple(before[cy, cx])
    assert tuple(marked[2, 160]) == tuple(before[2, 160])


def test_tiny_regions_and_marks_past_the_cap_are_left_out(item):
    drawing = draw_marks(Image.open(item.image), item.marks, MarkStyle(), "k")
    assert [item.marks[i].label for i, r in drawing.skipped.items() if r == "tiny"] == ["box"]  # the 3x3 px box
    capped = draw_marks(Image.new("RGB", (320, 240)), crowded_marks(), MarkStyle(max_marks=3), "k")
    assert len(capped.placed) == 3
    assert sorted(r for r in capped.skipped.values()) == ["over_cap"] * 6
    assert {capped.placed[k].index for k in range(3)} <= {0, 1, 2, 3}  # the largest (the discs) are kept
    assert [p.number for p in capped.placed] == [1, 2, 3]


def test_drawing_is_deterministic_from_the_seed(item):
    image = Image.open(item.image)
    a = draw_marks(image, item.marks, MarkStyle(seed=1), "k")
    b = draw_marks(image, item.marks, MarkStyle(seed=1), "k")
    c = draw_marks(image, item.marks, MarkStyle(seed=2), "k")
    assert np.array_equal(np.array(a.image), np.array(b.image))
    assert [p.colour for p in a.placed] != [p.colour for p in c.placed]
    assert [p.label_box for p in a.placed] == [p.label_box for p in c.placed]  # placement does not need the seed
    numbers = [(p.number, item.marks[p.index].box[1]) for p in a.placed]
    assert [y for _, y in numbers] == sorted(y for _, y in numbers)  # numbered in reading order


def test_distance_transform_and_palette():
    mask = np.zeros((9, 13), bool)
    mask[1:8, 1:12] = True
    dist = inside_distance(mask)
    assert dist[4, 6] == dist.max() == 4 and dist[1, 1] == 1 and dist[0, 0] == 0
    palette = mark_palette(16, 0, "k")
    assert len(set(palette)) == 16 and mark_palette(16, 0, "k") == palette != mark_palette(16, 1, "k")
    assert text_colour((250, 250, 40)) == (0, 0, 0) and text_colour((30, 30, 160)) == (255, 255, 255)


def test_segmentations_polygons_rle_and_bad_ones():
    poly = circle(50, 50, 20)
    rle = segmentation_to_rle([poly], 100, 80)
    x1, y1, x2, y2 = rle_box(rle)
    assert abs(x1 - 30) <= 1 and abs(x2 - 70) <= 1 and isinstance(rle["counts"], str)
    uncompressed = {"size": [80, 100], "counts": [0, 8000]}
    assert rle_box(segmentation_to_rle(uncompressed, 100, 80)) == (0.0, 0.0, 100.0, 80.0)
    assert segmentation_to_rle([], 100, 80) is None
    with pytest.raises(ValueError, match="size"):
        segmentation_to_rle({"size": [10, 10], "counts": [100]}, 100, 80)
    with pytest.raises(ValueError, match="3 points"):
        segmentation_to_rle([[1, 2, 3, 4]], 100, 80)
    mark = Mark("disc", (x1, y1, x2, y2), rle)
    assert Mark.from_json(mark.to_json()) == mark and mark.mask(100, 80)[50, 50] and not mark.mask(100, 80)[5, 5]


def test_look_at_it(item, tmp_path):
    """Writes the marked fixture next to the raw one (docs/som.md shows the same drawing)."""
    raw = Image.open(item.image).convert("RGB")
    drawing = draw_marks(raw, item.marks, MarkStyle(seed=0), "look")
    side = Image.new("RGB", (raw.width * 2 + 8, raw.height), (255, 255, 255))
    side.paste(raw, (0, 0))
    side.paste(drawing.image, (raw.width + 8, 0))
    side.save(tmp_path / "marked.png")
    assert Image.open(tmp_path / "marked.png").size == (648, 240)
