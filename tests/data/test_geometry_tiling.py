"""ImageFrame geometry, skip decisions, tiles and box text round trips."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from sphinx_x.data.geometry import ImageFrame, parse_boxes, write_regions
from sphinx_x.data.tiling import PAD_RGB, GridTiler, VisualLayout

PAPER = VisualLayout(grid=2, tile_pixels=224, tokens_per_tile=257)


def test_paper_token_counts_448_and_672():
    square = PAPER.keep_mask(PAPER.frame(1000, 1000))
    wide = PAPER.keep_mask(PAPER.frame(1000, 500))
    assert PAPER.num_slots(square) == 5 * (257 + 2) == 1295
    assert PAPER.num_slots(wide) == 3 * 259 + 2 == 779
    big = VisualLayout(grid=3, tile_pixels=224, tokens_per_tile=257)
    assert big.num_slots(big.keep_mask(big.frame(640, 640))) == 10 * 259 == 2590


@pytest.mark.parametrize(("size", "grid", "anchor", "tiles"), [
    ((400, 400), 2, "top_left", [True, True, True, True]),
    ((800, 400), 2, "top_left", [True, True, False, False]),  # 2:1 wide: bottom row is padding
    ((400, 800), 2, "top_left", [True, False, True, False]),  # 1:2 tall: right column is padding
    ((900, 300), 3, "top_left", [True, True, True] + [False] * 6),  # 3:1 at 3x3: two padded rows
    ((900, 300), 2, "top_left", [True, True, False, False]),
    ((800, 400), 2, "center", [True, True, True, True]),  # centred padding never fills a whole tile here
    ((1200, 300), 3, "center", [False] * 3 + [True] * 3 + [False] * 3),
])
def test_skip_decisions_from_geometry(size, grid, anchor, tiles):
    frame = ImageFrame.fit(*size, side=grid * 224, grid=grid, anchor=anchor)
    assert frame.keep_mask() == tiles


def test_box_text_round_trip_through_frame():
    frame = ImageFrame.fit(640, 320, side=448, grid=2)
    box = [64.0, 32.0, 320.0, 288.0]
    text = frame.box_to_text(box)
    assert text == "[0.10, 0.05, 0.50, 0.45]"
    back = frame.denormalise_box(parse_boxes(f"<p>cat</p> {text}")[0])
    assert back == pytest.approx(box, abs=frame.resolution_error())


def test_write_regions_uses_each_image_frame():
    frames = [ImageFrame.fit(200, 100, 448, 2), ImageFrame.fit(100, 200, 448, 2, anchor="center")]
    messages = [{"role": "user", "content": "a <region:0> b <region:1> c <region:2>"}]
    regions = [{"image": 0, "box": [0, 0, 100, 50]}, {"image": 1, "box": [0, 0, 100, 200]},
               {"image": 0, "point": [200, 100]}]
    out = write_regions(messages, regions, frames)
    assert out[0]["content"] == "a [0.00, 0.00, 0.50, 0.25] b [0.25, 0.00, 0.75, 1.00] c [1.00, 0.50]"


def test_tiler_outputs_kept_tiles_and_pads_with_the_clip_mean_colour():
    layout = VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5)
    image = Image.new("RGB", (128, 64), (255, 0, 0))
    frame = layout.frame(*image.size)
    keep = layout.keep_mask(frame)
    tiles = GridTiler(layout)(image, frame, keep)
    assert keep == [True, True, True, False, False]
    assert tiles.shape == (3, 3, 32, 32) and tiles.dtype == torch.uint8
    assert (tiles[1, 0] == 255).all() and (tiles[1, 1:] == 0).all()  # a full red tile
    assert (tiles[0, 0, :15] > 250).all()  # global view: the image fills the top half
    pad = torch.tensor(PAD_RGB, dtype=torch.uint8).view(3, 1, 1)
    assert PAD_RGB == (122, 116, 104) and (tiles[0, :, 18:] == pad).all()  # the authors' PadToSquare colour
