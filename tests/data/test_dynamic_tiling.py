"""IXC-2.5's dynamic partition (data/dynamic_tiling.py): grids from the aspect ratio, exact slot counts,
the tiler's pixels, the frame's coordinates, multi-image tags through the processor, and the newline /
separator slots filled by the model."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from sphinx_x.data.dynamic_tiling import DynamicLayout, PartitionFrame, TileKeep, partition_grid
from sphinx_x.data.geometry import parse_boxes
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.slots import END, NEWLINE, SEPARATOR, SKIP, START, TEXT, VISUAL
from sphinx_x.data.tiling import PAD_RGB, VisualLayout, layout_from_dict
from sphinx_x.model.build import build_sphinx
from sphinx_x.runtime.config import ConfigError, validate_config
from tests.testkit.configs import compose_config

PAPER_12 = DynamicLayout(tile_pixels=560, tokens_per_tile=400, max_tiles=12)  # 400 = merge2x2 of 40 x 40
PAPER_24 = DynamicLayout(tile_pixels=560, tokens_per_tile=400, max_tiles=24)
GROUP = 400 + 2


@pytest.mark.parametrize(("size", "max_tiles", "grid"), [
    ((1120, 1120), 12, (2, 2)),   # 1:1: s*s <= 12 gives 3, capped by ceil(1120 / 560) = 2
    ((2000, 2000), 12, (3, 3)),   # 1:1, large: 3 x 3 = 9 <= 12 (4 x 4 = 16 is not)
    ((300, 300), 12, (1, 1)),     # smaller than a tile: upscaled to one tile
    ((2240, 1120), 12, (4, 2)),   # 2:1: s * ceil(s / 2) <= 12 gives 4 (5 * 3 = 15 is not)
    ((4000, 2000), 24, (6, 3)),   # 2:1 at H=24: 6 * 3 = 18 (7 * 4 = 28 is not)
    ((600, 1800), 12, (2, 4)),    # 1:3: s * ceil(s / 3) <= 12 gives 6, capped by ceil(1800 / 560) = 4
    ((6000, 1000), 12, (6, 1)),   # 6:1: 6 * 1 = 6 (7 * 2 = 14 is not); the short side fits one tile
    ((300, 300 * 64), 24, (1, 24)),  # a 64:1 strip: 24 tiles in one column
])
def test_grid_from_the_aspect_ratio_by_the_papers_rule(size, max_tiles, grid):
    assert partition_grid(*size, max_tiles=max_tiles, tile=560) == grid
    cols, rows = grid
    assert cols * rows <= max_tiles


@pytest.mark.parametrize(("layout", "size", "tiles", "rows"), [
    (PAPER_12, (1120, 1120), 4, 2),   # 1:1
    (PAPER_12, (2240, 1120), 8, 2),   # 2:1
    (PAPER_12, (600, 1800), 8, 4),    # 1:3
    (PAPER_24, (4000, 2000), 18, 3),  # 2:1 at the SFT limit
])
def test_exact_slot_counts_follow_each_images_own_grid(layout, size, tiles, rows):
    frame = layout.frame(*size)
    keep = layout.keep_mask(frame)
    assert frame.cols * frame.rows == tiles and frame.rows == rows
    assert list(keep) == [True] * (1 + tiles)  # padding never fills a tile
    # global + tiles as [start] 400 [end], one separator, one newline per row of tiles
    assert layout.num_slots(keep) == (1 + tiles) * GROUP + 1 + rows


def test_the_three_aspect_ratios_at_the_papers_sizes():
    counts = {ratio: PAPER_12.num_slots(PAPER_12.keep_mask(PAPER_12.frame(*size)))
              for ratio, size in {"1:1": (1120, 1120), "2:1": (2240, 1120), "1:3": (600, 1800)}.items()}
    assert counts == {"1:1": 5 * 402 + 1 + 2, "2:1": 9 * 402 + 1 + 2, "1:3": 9 * 402 + 1 + 4}
    assert counts == {"1:1": 2013, "2:1": 3621, "1:3": 3623}
    assert PAPER_12.max_slots == 13 * 402 + 1 + 12  # 12 tiles in one column: the most rows
    assert PAPER_24.max_slots == 25 * 402 + 1 + 24


def test_slot_order_global_separator_then_rows_ending_in_newlines():
    layout = DynamicLayout(tile_pixels=32, tokens_per_tile=2, max_tiles=6)
    kinds = layout.slot_kinds(TileKeep([True] * 7, cols=3))  # 2 rows of 3 tiles
    group = [START, VISUAL, VISUAL, END]
    assert kinds == [*group, SEPARATOR, *group * 3, NEWLINE, *group * 3, NEWLINE]
    assert layout.slot_kinds(TileKeep([True, True, False], cols=2)) == [*group, SEPARATOR, *group, SKIP, NEWLINE]
    plain = DynamicLayout(tile_pixels=32, tokens_per_tile=2, row_newline=False, view_separator=False)
    assert plain.slot_kinds(TileKeep([True] * 3, cols=1)) == group * 3
    with pytest.raises(TypeError, match="keep mask made by DynamicLayout.keep_mask"):
        layout.slot_kinds([True, True])


def test_tiler_resizes_the_long_side_pads_the_short_one_centred_and_cuts_a_global_view():
    layout = DynamicLayout(tile_pixels=32, tokens_per_tile=2, max_tiles=6)
    image = Image.new("RGB", (100, 40), (255, 0, 0))  # 2.5:1 -> s = 3 (3 * 2 = 6), 96 x 38 in a 96 x 64 canvas
    frame = layout.frame(*image.size)
    assert (frame.cols, frame.rows, frame.canvas_size, frame.content_size) == (3, 2, (96, 64), (96, 38))
    assert frame.offset_y == 13.0 and frame.offset_x == 0.0
    keep = layout.keep_mask(frame)
    tiles = layout.tiler()(image, frame, keep)
    assert tiles.shape == (7, 3, 32, 32) and tiles.dtype == torch.uint8
    pad = torch.tensor(PAD_RGB, dtype=torch.uint8).view(3, 1, 1)
    top_left, bottom_right = tiles[1], tiles[6]
    assert (top_left[:, :13] == pad).all() and (top_left[0, 13:] == 255).all() and (top_left[1:, 13:] == 0).all()
    assert (bottom_right[0, :19] == 255).all() and (bottom_right[:, 19:] == pad).all()  # 13 + 38 = 51 = 32 + 19
    glob = tiles[0].float()  # the whole canvas in one tile: red band in the middle, padding above and below
    assert glob[0, 16].mean() > 250 and glob[0, 1].mean() == pytest.approx(PAD_RGB[0], abs=1)


def test_boxes_are_normalised_to_the_rectangular_canvas_and_read_back():
    frame = PartitionFrame.partition(1000, 400, max_tiles=12, tile=100)
    # 2.5:1 at H=12: s = 5 (5 * 2 = 10, 6 * 3 = 18): 500 x 200 fills a 5 x 2 canvas exactly
    assert (frame.cols, frame.rows, frame.offset_y) == (5, 2, 0.0)
    assert frame.box_to_text([100, 40, 500, 400]) == "[0.10, 0.10, 0.50, 1.00]"
    tall = PartitionFrame.partition(300, 1000, max_tiles=12, tile=100)  # 1:3.33: 6 rows, 180 px wide in 2 columns
    assert (tall.cols, tall.rows, tall.offset_x) == (2, 6, 10.0)
    box = [30.0, 100.0, 270.0, 900.0]
    back = tall.denormalise_box(parse_boxes(tall.box_to_text(box))[0])
    assert back == pytest.approx(box, abs=tall.resolution_error())
    u1, v1, u2, v2 = tall.normalise_box([0, 0, 300, 1000])
    assert v1 == 0.0 and v2 == pytest.approx(1.0)  # the long side fills the canvas
    assert 0 < u1 < u2 < 1  # the short side is padded on both sides (centred)


def test_processor_tags_multi_image_samples_and_saves_the_dynamic_layout(tmp_path, demo_tokenizer):
    layout = DynamicLayout(tile_pixels=32, tokens_per_tile=3, max_tiles=4, image_tags=True)
    processor = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=512)
    paths = []
    for k, size in enumerate([(64, 64), (96, 32)]):  # 1:1 -> 2 x 2; 3:1 -> 3 x 1
        paths.append(str(tmp_path / f"{k}.png"))
        Image.new("RGB", size, (10 * k, 0, 0)).save(paths[-1])
    record = {"id": "r", "source": "s", "task": "t", "images": paths,
              "messages": [{"role": "user", "content": "<image> <image> Compare them."},
                           {"role": "assistant", "content": "Same."}]}
    sample = processor(record)
    kinds = sample.slot_kind
    expected = [(1 + 4) * 5 + 1 + 2, (1 + 3) * 5 + 1 + 1]
    assert int((kinds != TEXT).sum()) == sum(expected)
    assert sample.pixels.shape == (5 + 4, 3, 32, 32) and int((kinds == START).sum()) == 9
    assert int((kinds == NEWLINE).sum()) == 3 and int((kinds == SEPARATOR).sum()) == 2
    text = demo_tokenizer.decode(sample.input_ids[kinds == TEXT])
    assert "Image1" in text and "Image2" in text and text.index("Image1") < text.index("Image2")
    single = processor({**record, "images": paths[:1], "messages": [
        {"role": "user", "content": "<image> Describe."}, {"role": "assistant", "content": "Red."}]})
    assert "Image1" not in demo_tokenizer.decode(single.input_ids[single.slot_kind == TEXT])
    processor.save_pretrained(tmp_path / "proc")
    loaded = SphinxProcessor.from_pretrained(tmp_path / "proc")
    assert loaded.layout == layout and isinstance(loaded.layout, DynamicLayout)
    assert torch.equal(loaded(record).slot_kind, kinds)
    assert layout_from_dict(VisualLayout(grid=2).to_dict()) == VisualLayout(grid=2)


def test_demo_model_fills_newline_and_separator_slots_and_saves_them(tmp_path, demo_dir, demo_tokenizer, one_thread):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/tiling=ixc_dynamic_demo"], tmp_path)
    layout = VisualLayout.from_model_config(cfg.model)
    assert isinstance(layout, DynamicLayout) and (layout.tile_pixels, layout.max_tiles) == (64, 6)
    torch.manual_seed(0)
    model = build_sphinx(cfg.model, vocab_size=len(demo_tokenizer))
    assert {"newline_embed", "separator_embed"} <= set(model.trainable_state_dict())
    processor = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=384)
    image = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), (0, 200, 0)).save(image)
    sample = processor({"id": "r", "source": "s", "task": "t", "images": [str(image)],
                        "messages": [{"role": "user", "content": "<image> Colour?"},
                                     {"role": "assistant", "content": "Green."}]})
    batch = processor.collator(["s"])([sample])
    embeds = model.embed(batch.input_ids, batch.slot_kind, batch.pixels)
    assert torch.equal(embeds[batch.slot_kind == NEWLINE], model.newline_embed.detach().expand(2, -1))
    assert torch.equal(embeds[batch.slot_kind == SEPARATOR], model.separator_embed.detach()[None])
    out = model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, labels=batch.labels)
    out.loss.backward()
    assert torch.isfinite(out.loss) and model.newline_embed.grad.abs().sum() > 0
    plain = build_sphinx(compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}"], tmp_path).model,
                         vocab_size=len(demo_tokenizer))
    assert not hasattr(plain, "newline_embed")  # grid tilings keep their checkpoints' keys
    with pytest.raises(ValueError, match="newline/separator"):
        plain.embed(batch.input_ids, batch.slot_kind, batch.pixels)


def test_config_errors_name_the_tiling_field(tmp_path, demo_dir):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/tiling=ixc_dynamic_demo",
                          "model.tiling.max_tiles=0"], tmp_path)
    with pytest.raises(ConfigError, match="model.tiling.max_tiles: must be >= 1"):
        validate_config(cfg)
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/tiling=ixc_dynamic_demo",
                          "model.tiling.partition=spiral"], tmp_path)
    with pytest.raises(ConfigError, match="model.tiling.partition: must be one of"):
        validate_config(cfg)
    for override, message in (("model.tiling.max_tiles=many", "model.tiling.max_tiles: must be an integer"),
                              ("model.tiling.row_newline=3", "model.tiling.row_newline: must be true or false")):
        cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/tiling=ixc_dynamic_demo",
                              override], tmp_path)
        with pytest.raises(ConfigError, match=message):
            validate_config(cfg)
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/tiling=ixc_dynamic_24",
                          "model.tiling.tile_pixels=64"], tmp_path)
    with pytest.raises(ConfigError, match="data.max_length"):  # 25 groups in one column do not fit 384 tokens
        validate_config(cfg)
