"""The evaluation loop's REC frames: boxes are read back through the frame the model saw each image in."""

from __future__ import annotations

from sphinx_x.data.dynamic_tiling import DynamicLayout
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.eval.benchmarks import EvalSample, get_benchmark
from sphinx_x.eval.loop import score_rows, with_model_frames
from sphinx_x.eval.metrics.rec import RecTarget


def _answer(layout: VisualLayout, box: tuple[float, float, float, float], width: int, height: int) -> str:
    x1, y1, x2, y2 = layout.frame(width, height).normalise_box(box)
    return f"[{x1:.3f}, {y1:.3f}, {x2:.3f}, {y2:.3f}]"


def test_rec_targets_take_the_dynamic_partitions_own_frame():
    spec = get_benchmark("demo_rec")
    layout = DynamicLayout(tile_pixels=64, max_tiles=6)
    box = (150.0, 10.0, 250.0, 60.0)
    sample = EvalSample("q1", ["img.png"], "<image>\\nWhere is the circle?", RecTarget(box, 256, 128))
    rows = [{"question_id": "q1", "prediction": _answer(layout, box, 256, 128)}]  # 2:1: a 4 x 2 grid
    framed = with_model_frames(spec, [sample], layout)
    assert framed[0].target.frame == layout.frame(256, 128)
    assert score_rows(spec, rows, framed)["accuracy"] == 1.0
    assert score_rows(spec, rows, [sample])["accuracy"] == 0.0  # read through a square frame: misplaced


def test_grid_layouts_keep_the_metrics_square_frame():
    spec = get_benchmark("demo_rec")
    layout = VisualLayout()
    box = (150.0, 10.0, 250.0, 60.0)
    sample = EvalSample("q1", ["img.png"], "<image>\\nWhere is the circle?", RecTarget(box, 256, 128))
    rows = [{"question_id": "q1", "prediction": _answer(layout, box, 256, 128)}]
    options = {"side": layout.grid * layout.tile_pixels, "grid": layout.grid, "anchor": layout.anchor}
    assert score_rows(spec, rows, with_model_frames(spec, [sample], layout), **options)["accuracy"] == 1.0
    assert score_rows(spec, rows, [sample], **options)["accuracy"] == 1.0
